from __future__ import annotations

import itertools
from datetime import UTC, datetime

from fastapi.testclient import TestClient


def test_firmographics_are_deterministic_per_domain(client: TestClient) -> None:
    company = client.get("/research/v1/companies/acme-robotics.example").json()
    assert client.get("/research/v1/companies/ACME-ROBOTICS.example").json() == company
    assert client.get("/research/v1/companies/other.example").json() != company

    assert company["domain"] == "acme-robotics.example"
    assert company["name"].startswith("Acme Robotics")
    assert company["company_id"].startswith("co_")
    assert company["employees"] > 0
    assert company["estimated_revenue_usd"] > 0
    assert 1985 <= company["founded_year"] <= 2022
    assert company["technologies"]


def test_financials_have_three_consistent_years(client: TestClient) -> None:
    company_id = client.get("/research/v1/companies/acme.example").json()["company_id"]
    series = client.get(f"/financials/v1/companies/{company_id}", params={"end_year": 2024}).json()

    assert series["currency"] == "USD"
    years = series["years"]
    assert [year["fiscal_year"] for year in years] == [2022, 2023, 2024]
    for previous, current in itertools.pairwise(years):
        growth = current["revenue_usd"] / previous["revenue_usd"] - 1
        assert abs(growth * 100 - current["revenue_growth_pct"]) < 0.2
    for year in years:
        assert year["net_debt_usd"] == year["total_debt_usd"] - year["cash_usd"]
        assert abs(year["ebitda_usd"] / year["revenue_usd"] * 100 - year["ebitda_margin_pct"]) < 0.2


def test_financials_values_do_not_depend_on_the_year_labels(client: TestClient) -> None:
    labelled_2024 = client.get("/financials/v1/companies/co_1", params={"end_year": 2024}).json()["years"]
    labelled_2030 = client.get("/financials/v1/companies/co_1", params={"end_year": 2030}).json()["years"]
    strip = [{k: v for k, v in year.items() if k != "fiscal_year"} for year in labelled_2024]
    assert strip == [{k: v for k, v in year.items() if k != "fiscal_year"} for year in labelled_2030]


def test_financials_default_to_the_last_complete_year(client: TestClient) -> None:
    years = client.get("/financials/v1/companies/co_1").json()["years"]
    assert years[-1]["fiscal_year"] == datetime.now(UTC).year - 1
    assert len(client.get("/financials/v1/companies/co_1", params={"years": 5}).json()["years"]) == 5
