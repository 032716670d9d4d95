"""Rule-based workstream analyzers.

A document is a dict. Its facts are read from ``doc["facts"]`` when present, else from the document's own
top-level keys. A document with a ``workstream`` key naming another workstream is skipped. Documents are
read in list order and a later document overrides an earlier one for the same fact. The document's
``doc_id`` (or ``id``, ``name``) is cited in the evidence.

Facts read per workstream (percentages are 0-100 numbers; numeric strings such as "12.5%" are accepted):

financial   financials: list of {year, revenue, ebitda, debt}   (one row per fiscal year, any order)
            top_customer_revenue_pct                            (share of revenue from the largest customer)
legal       open_litigation_count, change_of_control_contracts, ip_assignment_gaps
            optional: litigation_exposure_usd, material_contracts_count
technical   unsupported_dependencies (count, or list of names), test_coverage_pct, uptime_pct_12m
product     monthly_churn_pct, nps (-100..100), roadmap_concentration_pct (share of roadmap on one
            customer/initiative)
security    critical_vulns_open, last_pen_test_age_days (or "never"), security_incidents_24m

A missing or malformed required fact never raises: it yields one "<PREFIX>-INSUFFICIENT-EVIDENCE"
finding per workstream (severity 3, likelihood 3, -1% valuation: uncertainty costs something) listing
what was missing, and the rules that can still run, run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from workflows.dd_room.domain.models import WORKSTREAMS, Finding

PREFIX: dict[str, str] = {
    "financial": "FIN",
    "legal": "LEG",
    "technical": "TECH",
    "product": "PROD",
    "security": "SEC",
}

REQUIRED_FACTS: dict[str, tuple[str, ...]] = {
    "financial": ("financials", "top_customer_revenue_pct"),
    "legal": ("open_litigation_count", "change_of_control_contracts", "ip_assignment_gaps"),
    "technical": ("unsupported_dependencies", "test_coverage_pct", "uptime_pct_12m"),
    "product": ("monthly_churn_pct", "nps", "roadmap_concentration_pct"),
    "security": ("critical_vulns_open", "last_pen_test_age_days", "security_incidents_24m"),
}

INSUFFICIENT_SEVERITY = 3
INSUFFICIENT_LIKELIHOOD = 3
INSUFFICIENT_IMPACT_PCT = -1.0

# Mitigations by finding code: the risk register proposes them, the IC memo lists them as conditions.
MITIGATIONS: dict[str, str] = {
    "FIN-REV-CONCENTRATION": (
        "Obtain top-customer contract renewal/assignment consent; earn-out tied to retention."
    ),
    "FIN-EBITDA-NEGATIVE": (
        "Require a funded turnaround plan; price on revenue multiple with downside protection."
    ),
    "FIN-EBITDA-DECLINE": (
        "Quality-of-earnings review of the margin trend; adjust multiple to normalised EBITDA."
    ),
    "FIN-REVENUE-DECLINE": (
        "Cohort analysis of lost revenue; deferred consideration linked to revenue recovery."
    ),
    "FIN-LEVERAGE": "Debt to be refinanced or repaid at close; cash-free/debt-free price mechanism.",
    "LEG-LITIGATION": "Specific indemnity and escrow sized to the litigation exposure.",
    "LEG-CHANGE-OF-CONTROL": (
        "Obtain counterparty waivers for change-of-control clauses as a closing condition."
    ),
    "LEG-IP-ASSIGNMENT": "Confirmatory IP assignments from all contributors as a condition precedent.",
    "TECH-UNSUPPORTED-DEPS": "Fund an upgrade plan for end-of-life dependencies in the 100-day plan.",
    "TECH-LOW-TEST-COVERAGE": (
        "Budget test-automation work before integration; limit early changes to core code."
    ),
    "TECH-AVAILABILITY": (
        "Reliability remediation plan with SLO targets; review customer SLA credits exposure."
    ),
    "PROD-CHURN": "Retention plan with churn covenants; validate net revenue retention by cohort.",
    "PROD-NPS": "Customer interviews before signing; product-quality remediation in the integration plan.",
    "PROD-ROADMAP-CONCENTRATION": "Rebalance roadmap; confirm the dominant customer's commitment post-close.",
    "SEC-CRITICAL-VULNS": (
        "Remediate critical vulnerabilities before close, verified by an independent re-test."
    ),
    "SEC-PEN-TEST-STALE": "Commission an independent penetration test before signing.",
    "SEC-INCIDENTS": (
        "Forensic review of past incidents and breach-notification obligations; cyber indemnity."
    ),
}
INSUFFICIENT_MITIGATION = "Request the missing data-room documents and re-run the workstream before IC."


@dataclass
class _Facts:
    values: dict[str, Any]
    source: dict[str, str]
    missing: list[str] = field(default_factory=list)

    def cite(self, name: str) -> str:
        return f"{name}={self.values[name]!r} ({self.source[name]})"


def _doc_ref(doc: Mapping[str, Any], index: int) -> str:
    for key in ("doc_id", "id", "name"):
        if doc.get(key):
            return str(doc[key])
    return f"document #{index + 1}"


def collect_facts(workstream: str, documents: Sequence[Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Merge the facts of ``documents`` relevant to ``workstream``: (fact -> value, fact -> document ref)."""
    values: dict[str, Any] = {}
    source: dict[str, str] = {}
    for index, doc in enumerate(documents):
        if not isinstance(doc, Mapping):
            continue
        if doc.get("workstream") not in (None, workstream):
            continue
        facts = doc.get("facts", doc)
        if not isinstance(facts, Mapping):
            continue
        ref = _doc_ref(doc, index)
        for name, value in facts.items():
            if name in ("facts", "workstream", "doc_id", "id", "name"):
                continue
            values[str(name)] = value
            source[str(name)] = ref
    return values, source


def _num(value: Any) -> float | None:
    # bool is an int subclass; True as "1 litigation" would be a silent data error.
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip().rstrip("%").replace(",", "").strip()
        try:
            return float(text)
        except ValueError:
            return None
    return None


def _get(facts: _Facts, name: str) -> float | None:
    if name not in facts.values:
        facts.missing.append(name)
        return None
    number = _num(facts.values[name])
    if number is None:
        facts.missing.append(f"{name} (unreadable: {facts.values[name]!r})")
    return number


def _finding(ws: str, code: str, title: str, sev: int, lik: int, evidence: str, impact: float) -> Finding:
    return Finding(
        workstream=ws,
        code=code,
        title=title,
        severity=sev,
        likelihood=lik,
        evidence=evidence,
        valuation_impact_pct=round(min(0.0, impact), 2),
    )


def _financial(f: _Facts) -> list[Finding]:
    ws = "financial"
    out: list[Finding] = []
    top = _get(f, "top_customer_revenue_pct")
    if top is not None and top >= 25:
        sev, lik = (4, 4) if top >= 40 else (3, 3)
        out.append(
            _finding(
                ws,
                "FIN-REV-CONCENTRATION",
                "Revenue concentrated in one customer",
                sev,
                lik,
                f.cite("top_customer_revenue_pct"),
                -min(15.0, (top - 20) * 0.25),
            )
        )

    rows: list[tuple[int, float, float, float | None]] = []
    if "financials" not in f.values:
        f.missing.append("financials")
    elif not isinstance(f.values["financials"], list):
        f.missing.append("financials (not a list of yearly rows)")
    else:
        for row in f.values["financials"]:
            if not isinstance(row, Mapping):
                continue
            year, revenue, ebitda = _num(row.get("year")), _num(row.get("revenue")), _num(row.get("ebitda"))
            if year is None or revenue is None or ebitda is None:
                continue
            rows.append((int(year), revenue, ebitda, _num(row.get("debt"))))
        rows.sort()
        if not rows:
            f.missing.append("financials (no row with year, revenue and ebitda)")
    if not rows:
        return out

    src = f.source["financials"]
    year, revenue, ebitda, debt = rows[-1]
    series = ", ".join(f"{y}: rev {r:,.0f} / ebitda {e:,.0f}" for y, r, e, _ in rows)
    declining = len(rows) >= 2 and ebitda < rows[-2][2]
    if len(rows) >= 3:
        # Two consecutive drops is a trend; one drop needs to be large (>20%) to count.
        declining = declining and (rows[-2][2] < rows[-3][2] or ebitda < rows[-2][2] - 0.2 * abs(rows[-2][2]))
    elif declining:
        declining = ebitda < rows[-2][2] - 0.2 * abs(rows[-2][2])
    if ebitda < 0:
        sev = 5 if declining else 4
        out.append(
            _finding(
                ws,
                "FIN-EBITDA-NEGATIVE",
                f"Negative EBITDA in {year}",
                sev,
                5,
                f"financials ({src}): {series}",
                -12.0 if declining else -8.0,
            )
        )
    elif declining:
        out.append(
            _finding(
                ws,
                "FIN-EBITDA-DECLINE",
                "Declining EBITDA trend",
                3,
                4,
                f"financials ({src}): {series}",
                -4.0,
            )
        )
    if len(rows) >= 2 and rows[-2][1] > 0 and revenue < rows[-2][1]:
        drop = (rows[-2][1] - revenue) / rows[-2][1] * 100
        out.append(
            _finding(
                ws,
                "FIN-REVENUE-DECLINE",
                f"Revenue fell {drop:.1f}% in {year}",
                3,
                4,
                f"financials ({src}): {series}",
                -max(2.0, min(10.0, drop * 0.5)),
            )
        )
    if debt is None:
        f.missing.append(f"financials[{year}].debt")
    elif debt > 0:
        if ebitda <= 0:
            out.append(
                _finding(
                    ws,
                    "FIN-LEVERAGE",
                    "Debt carried with non-positive EBITDA",
                    5,
                    4,
                    f"financials ({src}): {year} debt {debt:,.0f}, ebitda {ebitda:,.0f}",
                    -10.0,
                )
            )
        else:
            ratio = debt / ebitda
            level = (
                (5, 4, -10.0)
                if ratio > 5
                else (4, 4, -6.0)
                if ratio > 3.5
                else (3, 3, -3.0)
                if ratio > 2.5
                else None
            )
            if level:
                out.append(
                    _finding(
                        ws,
                        "FIN-LEVERAGE",
                        f"High leverage: debt/EBITDA {ratio:.1f}x",
                        level[0],
                        level[1],
                        f"financials ({src}): {year} debt {debt:,.0f}, ebitda {ebitda:,.0f}",
                        level[2],
                    )
                )
    return out


def _legal(f: _Facts) -> list[Finding]:
    ws = "legal"
    out: list[Finding] = []
    cases = _get(f, "open_litigation_count")
    if cases is not None and cases >= 1:
        sev, lik = (4, 4) if cases >= 3 else (3, 3)
        evidence = f.cite("open_litigation_count")
        if "litigation_exposure_usd" in f.values:
            evidence += "; " + f.cite("litigation_exposure_usd")
        out.append(
            _finding(
                ws,
                "LEG-LITIGATION",
                f"{int(cases)} open litigation case(s)",
                sev,
                lik,
                evidence,
                -min(10.0, 2.0 * cases),
            )
        )
    coc = _get(f, "change_of_control_contracts")
    if coc is not None and coc >= 1:
        total = _num(f.values.get("material_contracts_count"))
        share = coc / total if total else None
        severe = coc >= 5 or (share is not None and share >= 0.3)
        evidence = f.cite("change_of_control_contracts")
        if share is not None:
            evidence += f"; {share:.0%} of {int(total or 0)} material contracts"
        out.append(
            _finding(
                ws,
                "LEG-CHANGE-OF-CONTROL",
                "Change-of-control clauses in material contracts",
                4 if severe else 3,
                4 if severe else 3,
                evidence,
                -5.0 if severe else -2.0,
            )
        )
    gaps = _get(f, "ip_assignment_gaps")
    if gaps is not None and gaps >= 1:
        severe = gaps >= 5
        out.append(
            _finding(
                ws,
                "LEG-IP-ASSIGNMENT",
                "IP not assigned to the company by all contributors",
                4 if severe else 3,
                4 if severe else 3,
                f.cite("ip_assignment_gaps"),
                -5.0 if severe else -2.0,
            )
        )
    return out


def _technical(f: _Facts) -> list[Finding]:
    ws = "technical"
    out: list[Finding] = []
    raw = f.values.get("unsupported_dependencies")
    deps = float(len(raw)) if isinstance(raw, list) else _get(f, "unsupported_dependencies")
    if deps is not None and deps >= 1:
        sev, lik, impact = (4, 4, -4.0) if deps >= 10 else (3, 3, -2.0) if deps >= 3 else (2, 3, -0.5)
        out.append(
            _finding(
                ws,
                "TECH-UNSUPPORTED-DEPS",
                f"{int(deps)} end-of-life dependencies",
                sev,
                lik,
                f.cite("unsupported_dependencies"),
                impact,
            )
        )
    coverage = _get(f, "test_coverage_pct")
    if coverage is not None and coverage < 60:
        sev, lik, impact = (4, 4, -3.0) if coverage < 30 else (3, 3, -1.5)
        out.append(
            _finding(
                ws,
                "TECH-LOW-TEST-COVERAGE",
                f"Test coverage {coverage:g}%",
                sev,
                lik,
                f.cite("test_coverage_pct"),
                impact,
            )
        )
    uptime = _get(f, "uptime_pct_12m")
    if uptime is not None and uptime < 99.9:
        sev, lik, impact = (4, 4, -4.0) if uptime < 99.0 else (3, 3, -2.0) if uptime < 99.5 else (2, 2, -0.5)
        out.append(
            _finding(
                ws,
                "TECH-AVAILABILITY",
                f"Availability {uptime:g}% over 12 months",
                sev,
                lik,
                f.cite("uptime_pct_12m"),
                impact,
            )
        )
    return out


def _product(f: _Facts) -> list[Finding]:
    ws = "product"
    out: list[Finding] = []
    churn = _get(f, "monthly_churn_pct")
    if churn is not None and churn > 1.5:
        sev, lik, impact = (5, 4, -10.0) if churn > 5 else (4, 4, -6.0) if churn > 3 else (3, 3, -2.0)
        out.append(
            _finding(
                ws, "PROD-CHURN", f"Monthly churn {churn:g}%", sev, lik, f.cite("monthly_churn_pct"), impact
            )
        )
    nps = _get(f, "nps")
    if nps is not None and nps < 20:
        sev, lik, impact = (4, 4, -4.0) if nps < 0 else (3, 3, -1.5)
        out.append(_finding(ws, "PROD-NPS", f"Low NPS ({nps:g})", sev, lik, f.cite("nps"), impact))
    conc = _get(f, "roadmap_concentration_pct")
    if conc is not None and conc > 50:
        sev, impact = (4, -3.0) if conc > 70 else (3, -1.5)
        out.append(
            _finding(
                ws,
                "PROD-ROADMAP-CONCENTRATION",
                f"{conc:g}% of roadmap on one initiative",
                sev,
                3,
                f.cite("roadmap_concentration_pct"),
                impact,
            )
        )
    return out


def _security(f: _Facts) -> list[Finding]:
    ws = "security"
    out: list[Finding] = []
    vulns = _get(f, "critical_vulns_open")
    if vulns is not None and vulns >= 1:
        sev, lik, impact = (5, 5, -8.0) if vulns > 3 else (4, 4, -4.0)
        out.append(
            _finding(
                ws,
                "SEC-CRITICAL-VULNS",
                f"{int(vulns)} open critical vulnerabilities",
                sev,
                lik,
                f.cite("critical_vulns_open"),
                impact,
            )
        )
    raw = f.values.get("last_pen_test_age_days")
    if isinstance(raw, str) and raw.strip().lower() == "never":
        out.append(
            _finding(
                ws,
                "SEC-PEN-TEST-STALE",
                "No penetration test ever performed",
                4,
                3,
                f.cite("last_pen_test_age_days"),
                -2.0,
            )
        )
    else:
        age = _get(f, "last_pen_test_age_days")
        if age is not None and age > 180:
            sev, impact = (4, -2.0) if age > 365 else (3, -1.0)
            out.append(
                _finding(
                    ws,
                    "SEC-PEN-TEST-STALE",
                    f"Last penetration test {int(age)} days ago",
                    sev,
                    3,
                    f.cite("last_pen_test_age_days"),
                    impact,
                )
            )
    incidents = _get(f, "security_incidents_24m")
    if incidents is not None and incidents >= 1:
        sev, lik, impact = (5, 4, -6.0) if incidents >= 3 else (3, 3, -2.0)
        out.append(
            _finding(
                ws,
                "SEC-INCIDENTS",
                f"{int(incidents)} security incident(s) in 24 months",
                sev,
                lik,
                f.cite("security_incidents_24m"),
                impact,
            )
        )
    return out


_ANALYZERS: dict[str, Callable[[_Facts], list[Finding]]] = {
    "financial": _financial,
    "legal": _legal,
    "technical": _technical,
    "product": _product,
    "security": _security,
}


def analyze_workstream(workstream: str, documents: list[dict[str, Any]]) -> list[Finding]:
    """Apply ``workstream``'s rules to the facts of ``documents`` (see module docstring for fact names)."""
    if workstream not in WORKSTREAMS:
        # A wrong workstream name is a wiring bug, unlike missing data, so it does raise.
        raise ValueError(f"unknown workstream {workstream!r}; expected one of {WORKSTREAMS}")
    values, source = collect_facts(workstream, documents)
    facts = _Facts(values=values, source=source)
    findings = _ANALYZERS[workstream](facts)
    if facts.missing:
        findings.append(
            _finding(
                workstream,
                f"{PREFIX[workstream]}-INSUFFICIENT-EVIDENCE",
                f"Insufficient evidence for the {workstream} workstream",
                INSUFFICIENT_SEVERITY,
                INSUFFICIENT_LIKELIHOOD,
                "missing or unreadable facts: " + ", ".join(facts.missing),
                INSUFFICIENT_IMPACT_PCT,
            )
        )
    return findings
