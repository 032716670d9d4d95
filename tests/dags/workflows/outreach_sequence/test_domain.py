"""outreach_sequence's business rules without Airflow: the contact's channels and dialect, the templates,
personalisation's prompt and check, what the recipient's acts mean, what the CRM must hold after a stop."""

from __future__ import annotations

from typing import Any

import pytest

from workflows.outreach_sequence.domain import (
    CAMPAIGNS,
    CHANNEL_LIMITS,
    STOP_OUTCOMES,
    Contact,
    accept_rewrite,
    channel_plan,
    choose_dialect,
    consented,
    crm_change_for_stop,
    decide,
    handover_message,
    language_of,
    prompt,
    render,
    role_for,
    template_for,
    with_footer,
)

GULF_LINE = "ابي اعرف الحين كم السعر"


def contact(**overrides: Any) -> Contact:
    fields: dict[str, Any] = {
        "contact_id": "C-1",
        "first_name": "ليلى",
        "last_name": "الحداد",
        "company": "Cedar GmbH",
        "email": "layla@cedar.example",
        "whatsapp": "+966500000001",
        "phone": "+966500000001",
        "country": "SA",
        "time_zone": "Asia/Riyadh",
        "language": "ar",
        "preferred_channel": "whatsapp",
        "last_message": GULF_LINE,
        "consent": {"email": True, "whatsapp": True, "sms": False},
        "owner_name": "Layla Haddad",
        "owner_email": "layla.haddad@sales.execution-plane.example",
        "owner_calendar": "layla-haddad",
        **overrides,
    }
    return Contact.model_validate(fields)


def test_channels_in_order_preferred_first_only_with_an_address() -> None:
    assert channel_plan(contact(), ["email", "sms", "whatsapp"]) == ["whatsapp", "email", "sms"]
    assert channel_plan(contact(preferred_channel="email"), ["whatsapp", "email"]) == ["email", "whatsapp"]
    assert channel_plan(contact(whatsapp=None), ["whatsapp", "email"]) == ["email"]
    # A preferred channel the run does not allow is not used.
    assert channel_plan(contact(), ["email"]) == ["email"]


def test_only_consented_channels_are_used_and_silence_is_not_consent() -> None:
    person = contact(consent={"email": True, "whatsapp": False})
    assert consented(person, ["whatsapp", "email", "sms"]) == ["email"]
    assert consented(contact(consent={}), ["whatsapp", "email"]) == []


def test_dialect_from_their_writing_else_their_country() -> None:
    assert choose_dialect("EG", "levantine") == "levantine"
    assert choose_dialect("EG", "too_short") == "egyptian"
    assert choose_dialect("SA", None) == "gulf"
    assert choose_dialect("MA", "not_arabic") == "maghrebi"
    assert choose_dialect("FR", None) == "msa"


def test_template_roles_through_the_sequence() -> None:
    assert [role_for(n, 4) for n in range(1, 5)] == ["opening", "follow_up_1", "follow_up_2", "last_note"]
    assert [role_for(n, 1) for n in range(1, 2)] == ["opening"]
    assert [role_for(n, 2) for n in range(1, 3)] == ["opening", "last_note"]
    with pytest.raises(ValueError, match="message 4 is not in a sequence of 3"):
        role_for(4, 3)
    with pytest.raises(ValueError, match="unknown campaign"):
        template_for("spam", 1, 3, "en")


@pytest.mark.parametrize("campaign", CAMPAIGNS)
@pytest.mark.parametrize("language", ["en", "ar"])
def test_every_template_renders_for_the_contact(campaign: str, language: str) -> None:
    person = contact(language=language)
    for step_no in range(1, 5):
        template = template_for(campaign, step_no, 4, language)
        rendered = render(template, person)
        assert template.key == f"{campaign}.{role_for(step_no, 4)}.{language}"
        assert person.first_name in rendered.body and "{" not in rendered.body + rendered.subject
        assert len(with_footer(rendered.body, language, "sms")) <= CHANNEL_LIMITS["sms"] + 60


def test_the_language_is_arabic_for_arabic_speakers_english_otherwise() -> None:
    assert language_of(contact()) == "ar"
    assert language_of(contact(language="de")) == "en"


def test_the_footer_is_always_there_in_the_message_language() -> None:
    assert with_footer("Hello", "en", "sms").endswith("Reply STOP to opt out.")
    assert "STOP" in with_footer("مرحباً", "ar", "whatsapp") and "للتوقف" in with_footer(
        "مرحباً", "ar", "whatsapp"
    )


def test_the_prompt_names_language_dialect_channel_and_what_they_wrote() -> None:
    draft = "مرحباً ليلى"
    asked = prompt(contact(), draft, language="ar", dialect="gulf", channel="whatsapp")
    assert "Gulf Arabic, as people from SA write it" in asked.system
    assert "1000 characters" in asked.system and "whatsapp" in asked.system
    assert f"<draft>\n{draft}\n</draft>" in asked.user
    assert GULF_LINE in asked.user
    english = prompt(
        contact(language="en", last_message=""), "Hello", language="en", dialect=None, channel="sms"
    )
    assert "in English." in english.system and "What they wrote" not in english.user


@pytest.mark.parametrize(
    ("rewrite", "language", "channel", "source"),
    [
        ("مرحباً ليلى، هل تهتم شركتكم بشراكة؟", "ar", "whatsapp", "llm"),
        ("Hello Layla, would a partnership interest you?", "ar", "whatsapp", "template"),  # wrong script
        ("Hello {first_name}", "en", "email", "template"),  # a placeholder left
        ("x" * 460, "en", "sms", "template"),  # too long for SMS
        ("", "en", "email", "template"),
        (None, "en", "email", "template"),  # the model could not be reached
        ("Hello Ana, would a partnership interest Cedar?", "en", "email", "llm"),
    ],
)
def test_a_rewrite_is_sent_only_when_it_passes_every_check(
    rewrite: str | None, language: str, channel: str, source: str
) -> None:
    text, used = accept_rewrite(rewrite, "DRAFT", language=language, channel=channel)
    assert used == source
    assert text == (rewrite.strip() if source == "llm" and rewrite else "DRAFT")


@pytest.mark.parametrize(
    ("event_type", "intent", "next_step", "outcome"),
    [
        ("message.replied", "meeting_request", "meeting", "meeting_requested"),
        ("message.replied", "unsubscribe", "stop", "unsubscribed"),
        ("message.replied", "complaint", "stop", "complained"),
        ("message.replied", "interested", "handover", "handed_over"),
        ("message.replied", "out_of_office", "handover", "handed_over"),
        ("message.replied", None, "handover", "handed_over"),
        ("message.opted_out", None, "stop", "opted_out"),
        ("message.complained", None, "stop", "complained"),
        ("message.bounced", None, "stop", "bounced"),
    ],
)
def test_what_each_act_of_the_recipient_means(
    event_type: str, intent: str | None, next_step: str, outcome: str
) -> None:
    decision = decide(event_type, "whatsapp", intent)
    assert (decision.next, decision.outcome) == (next_step, outcome)
    assert "whatsapp" in decision.reason


def test_a_temporary_bounce_is_not_an_act_that_stops() -> None:
    with pytest.raises(ValueError, match="not an act of the recipient"):
        decide("message.deferred", "email", None)


def test_what_the_crm_holds_after_each_stop() -> None:
    assert crm_change_for_stop("opted_out", "sms").fields == {"consent": {"sms": False}}
    unsubscribed = crm_change_for_stop("unsubscribed", "email")
    assert unsubscribed.fields["consent"] == {"whatsapp": False, "email": False, "sms": False}
    complained = crm_change_for_stop("complained", "email")
    assert complained.fields["do_not_contact"] is True and not any(complained.fields["consent"].values())
    assert crm_change_for_stop("bounced", "email").fields == {"email_status": "bounced"}
    assert {crm_change_for_stop(o, "email").status for o in STOP_OUTCOMES} == set(STOP_OUTCOMES)
    with pytest.raises(ValueError, match="not a stop"):
        crm_change_for_stop("handed_over", "email")


def test_the_owner_reads_the_reply_its_intent_and_dialect() -> None:
    reply = {
        "channel": "whatsapp",
        "text": "كم السعر؟",
        "intent": "question",
        "confidence": 0.8,
        "dialect": "gulf",
    }
    message = handover_message(contact(), reply, 2)
    assert message.subject == "Reply from ليلى الحداد (Cedar GmbH): question"
    assert "after 2 messages" in message.body and "كم السعر؟" in message.body
    assert "question (80% sure); dialect: gulf" in message.body
