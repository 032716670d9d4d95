"""CRM contacts (the same CRM as ``crm``: one system, one idempotency scope, one effect log): the people the
sales team writes to, with what an outreach needs to reach them properly.

A contact exists for any id (derived: name in the script of their language, company, email, WhatsApp/SMS
number, country, IANA time zone, language, a line they wrote themselves in a web form, consent per channel,
their owner in the sales team with the owner's Cal.com username), overlaid by what was seeded
(``POST /contacts``) or patched (``PATCH /contacts/{id}``: status and fields; ``consent`` given in
fields replaces only the channels it names). Countries include the Gulf, the Levant, Egypt, Iraq and the
Maghreb, whose contacts write Arabic in their region's dialect.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel, Field

from include.sandbox import derive
from include.sandbox.provider import CallDep, ProviderError, provider_router
from include.sandbox.state import utc_now_iso

router = provider_router("crm", "/crm/v1")

# (country, IANA time zone, language, dialling code, a line a contact there writes into a web form)
_PLACES: tuple[tuple[str, str, str, str, str], ...] = (
    ("SA", "Asia/Riyadh", "ar", "+966", "ابي اعرف الحين كم السعر، وايد مهتمين بالخدمة عندكم"),
    ("AE", "Asia/Dubai", "ar", "+971", "ابي اعرف الحين كم السعر، وايد مهتمين بالخدمة عندكم"),
    ("EG", "Africa/Cairo", "ar", "+20", "عايز اعرف السعر كام، احنا مهتمين اوي بالخدمة دي"),
    ("JO", "Asia/Amman", "ar", "+962", "بدي اعرف قديش السعر، نحنا كتير مهتمين بهالخدمة"),
    ("MA", "Africa/Casablanca", "ar", "+212", "بغيت نعرف شحال الثمن، حنا مهتمين بزاف بهاد الخدمة"),
    ("IQ", "Asia/Baghdad", "ar", "+964", "اريد اعرف شكد السعر هسه، احنا هواية مهتمين بالخدمة"),
    ("GB", "Europe/London", "en", "+44", "We would like to know more about pricing for our team."),
    ("US", "America/New_York", "en", "+1", "Looking for a tool to run our partner onboarding."),
    ("DE", "Europe/Berlin", "en", "+49", "Interested in a demo for our operations team."),
    ("SG", "Asia/Singapore", "en", "+65", "Please send details on the enterprise plan."),
)
_ARABIC_FIRST = ("ليلى", "عمر", "سارة", "خالد", "نور", "يوسف", "مريم", "أحمد")
_ARABIC_LAST = ("الحداد", "خليل", "منصور", "العلي", "يوسف", "سليمان")
_OWNERS = (
    ("Layla Haddad", "layla.haddad"),
    ("Greta Fischer", "greta.fischer"),
    ("Luis Castillo", "luis.castillo"),
    ("Hiro Tanaka", "hiro.tanaka"),
)
OWNER_DOMAIN = "sales.execution-plane.example"


def contact_record(contact_id: str) -> dict[str, Any]:
    """A contact as the CRM holds it; the same id always gives the same contact."""
    profile = derive.partner_profile(f"contact-{contact_id}")
    n = int(derive.hex_digest("contact-facts", contact_id)[:8], 16)
    country, time_zone, language, dial, line = _PLACES[n % len(_PLACES)]
    if language == "ar":
        first = _ARABIC_FIRST[n % len(_ARABIC_FIRST)]
        last = _ARABIC_LAST[(n // 7) % len(_ARABIC_LAST)]
    else:
        first, last = profile["name"].split(" ", 1)
    stem = profile["company"].split(" ")[0].lower()
    domain = f"{stem}-{derive.hex_digest('contact-domain', contact_id)[:6]}.example"
    number = f"{dial}{5_000_000 + n % 4_000_000}"
    owner_name, owner_user = _OWNERS[(n // 3) % len(_OWNERS)]
    return {
        "contact_id": contact_id,
        "first_name": first,
        "last_name": last,
        "company": profile["company"],
        "email": f"{profile['name'].split(' ')[0].lower()}.{contact_id.lower()}@{domain}",
        "whatsapp": number,
        "phone": number,
        "country": country,
        "time_zone": time_zone,
        "language": language,
        "preferred_channel": "whatsapp" if language == "ar" else "email",
        "last_message": line,
        "consent": {"email": True, "whatsapp": n % 3 != 0, "sms": n % 2 == 0},
        "owner_name": owner_name,
        "owner_email": f"{owner_user}@{OWNER_DOMAIN}",
        "owner_calendar": owner_user.replace(".", "-"),
        "status": "new",
    }


class ContactIn(BaseModel, extra="allow"):
    contact_id: str = Field(min_length=1, max_length=128)


class ContactPatchIn(BaseModel):
    status: str | None = Field(default=None, min_length=1, max_length=40)
    fields: dict[str, Any] = Field(default_factory=dict)


def _contact(resources: dict[str, dict[str, Any]], contact_id: str) -> dict[str, Any]:
    contact = contact_record(contact_id)
    overrides = resources["contacts"].get(contact_id, {}).get("overrides", {})
    merged = {**contact, **{k: v for k, v in overrides.items() if k != "consent"}}
    merged["consent"] = {**contact["consent"], **overrides.get("consent", {})}
    return copy.deepcopy(merged)


@router.get("/contacts/{contact_id}")
def get_contact(contact_id: str, call: CallDep) -> dict[str, Any]:
    with call.state.view() as resources:
        return _contact(resources, contact_id)


@router.post("/contacts", status_code=201)
def create_contact(body: ContactIn, call: CallDep) -> dict[str, Any]:
    """Seed a contact with these fields over the derived ones (how tests pin a contact's facts)."""
    overrides = body.model_dump(exclude={"contact_id"})
    with call.state.transaction() as resources:
        if resources["contacts"].get(body.contact_id, {}).get("seeded"):
            raise ProviderError(
                409, "contact_exists", f"contact {body.contact_id} already exists", contact_id=body.contact_id
            )
        resources["contacts"][body.contact_id] = {
            "overrides": overrides,
            "seeded": True,
            "updated_at": utc_now_iso(),
        }
        call.record(body.contact_id, {"contact_id": body.contact_id, **overrides})
        return _contact(resources, body.contact_id)


@router.patch("/contacts/{contact_id}")
def update_contact(contact_id: str, body: ContactPatchIn, call: CallDep) -> dict[str, Any]:
    """Set the contact's status and fields (outreach status, consent withdrawn, an address that bounced)."""
    changes = {name: value for name, value in body.fields.items() if name != "contact_id"}
    if body.status is not None:
        changes["status"] = body.status
    given = changes.pop("consent", {})
    if not isinstance(given, dict) or not all(isinstance(v, bool) for v in given.values()):
        raise ProviderError(422, "invalid_consent", "consent is an object of channel -> true/false")
    with call.state.transaction() as resources:
        record = resources["contacts"].setdefault(contact_id, {"overrides": {}, "seeded": False})
        record["overrides"].update(changes)
        if given:
            record["overrides"]["consent"] = {**record["overrides"].get("consent", {}), **given}
        record["updated_at"] = utc_now_iso()
        call.record(contact_id, {**changes, **({"consent": given} if given else {})})
        return _contact(resources, contact_id)
