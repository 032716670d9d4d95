"""Personalisation by an LLM: the prompt that asks for the rewrite, and the check its answer must pass to be
sent. An answer that fails the check (empty, too long for the channel, placeholders left, the wrong script)
is replaced by the draft: the draft is a complete, correct message, the rewrite only a better one."""

from __future__ import annotations

import re
from dataclasses import dataclass

from workflows.outreach_sequence.domain.contact import Contact

#: The longest text each channel takes (before the opt-out line): SMS three segments, WhatsApp's limit for a
#: business message leaves room, email kept short as outreach should be.
CHANNEL_LIMITS = {"sms": 459, "whatsapp": 1000, "email": 2000}
LANGUAGE_NAMES = {"en": "English", "ar": "Arabic"}
DIALECT_NAMES = {
    "gulf": "Gulf",
    "egyptian": "Egyptian",
    "levantine": "Levantine",
    "maghrebi": "Maghrebi (Moroccan, Algerian, Tunisian)",
    "iraqi": "Iraqi",
    "msa": "Modern Standard",
}
_LEFTOVER = re.compile(r"[{}<>]")


@dataclass(frozen=True)
class Prompt:
    system: str
    user: str


def prompt(contact: Contact, draft: str, *, language: str, dialect: str | None, channel: str) -> Prompt:
    """Ask for the draft rewritten for ``contact`` in ``language`` (for Arabic, in ``dialect``)."""
    voice = LANGUAGE_NAMES[language]
    if language == "ar" and dialect:
        voice = f"{DIALECT_NAMES[dialect]} Arabic, as people from {contact.country} write it"
    system = (
        "You personalise sales outreach messages. Rewrite the draft for the recipient in "
        f"{voice}. Keep every fact and the sender's name, stay under {CHANNEL_LIMITS[channel]} characters "
        f"(a {channel} message), add no links and no placeholders, and return only the message text."
    )
    wrote = contact.last_message.strip()
    user = (
        f"Recipient: {contact.full_name}, {contact.company} ({contact.country}).\n"
        + (f"What they wrote to us: {wrote}\n" if wrote else "")
        + f"<draft>\n{draft}\n</draft>"
    )
    return Prompt(system=system, user=user)


def arabic_share(text: str) -> float:
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for ch in letters if "\u0600" <= ch <= "\u06ff" or "\u0750" <= ch <= "\u077f") / len(letters)


def accept_rewrite(rewrite: str | None, draft: str, *, language: str, channel: str) -> tuple[str, str]:
    """(text to send, ``llm`` or ``template``): the rewrite when it passes every check, else the draft."""
    text = (rewrite or "").strip()
    if not text or len(text) > CHANNEL_LIMITS[channel] or _LEFTOVER.search(text):
        return draft, "template"
    share = arabic_share(text)
    if (language == "ar" and share < 0.5) or (language != "ar" and share >= 0.5):
        return draft, "template"
    return text, "llm"
