"""What the attendee and the organizer read: proposed times (in the attendee's language and time zone), the
confirmation, the calendar invitations, and the notice that a booked meeting is cancelled."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from include.domain.common import Message
from include.domain.quiet_hours import zone

Why = Literal["first", "counter_unavailable", "unclear", "slot_taken"]

_DAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "ar": ("الاثنين", "الثلاثاء", "الأربعاء", "الخميس", "الجمعة", "السبت", "الأحد"),
}
_MONTHS = {
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    "ar": (
        "يناير",
        "فبراير",
        "مارس",
        "أبريل",
        "مايو",
        "يونيو",
        "يوليو",
        "أغسطس",
        "سبتمبر",
        "أكتوبر",
        "نوفمبر",
        "ديسمبر",
    ),
}
_OPENING = {
    ("en", "first"): "Thank you for your interest.",
    ("en", "counter_unavailable"): "Unfortunately the time you suggested is not free.",
    ("en", "unclear"): "Sorry, I could not tell which time suits you.",
    ("en", "slot_taken"): "The time you chose was taken just now, I am sorry.",
    ("ar", "first"): "شكراً لاهتمامك.",
    ("ar", "counter_unavailable"): "للأسف الموعد الذي اقترحته غير متاح.",
    ("ar", "unclear"): "عذراً، لم يتضح لي أي موعد يناسبك.",
    ("ar", "slot_taken"): "نأسف، الموعد الذي اخترته حُجز للتو.",
}


def lang(language: str) -> str:
    return "ar" if language == "ar" else "en"


def when(slot: datetime, time_zone: str, language: str) -> str:
    """``Tuesday 6 January, 12:00`` / ``الثلاثاء 6 يناير، 12:00`` in the reader's time zone."""
    local = slot.astimezone(zone(time_zone))
    language = lang(language)
    day, month = _DAYS[language][local.weekday()], _MONTHS[language][local.month - 1]
    comma = "،" if language == "ar" else ","
    return f"{day} {local.day} {month}{comma} {local:%H:%M}"


def proposal(
    options: list[datetime],
    *,
    language: str,
    attendee_name: str,
    organizer_name: str,
    title: str,
    time_zone: str,
    why: Why,
) -> Message:
    """The times proposed in a round, numbered, with how to answer."""
    language = lang(language)
    listed = "\n".join(f"{n}) {when(slot, time_zone, language)}" for n, slot in enumerate(options, start=1))
    if language == "ar":
        body = (
            f"مرحباً {attendee_name}، {_OPENING[(language, why)]} أي موعد يناسبك لاجتماع «{title}» مع "
            f"{organizer_name}؟\n{listed}\nأرسل رقم الموعد، أو اقترح وقتاً آخر. (المواعيد بتوقيت {time_zone})"
        )
        return Message(subject=f"مواعيد مقترحة: {title}", body=body)
    body = (
        f'Hello {attendee_name}, {_OPENING[(language, why)]} Which time suits you for "{title}" with '
        f"{organizer_name}?\n{listed}\nReply with the number, or suggest another time."
        f" (Times in {time_zone}.)"
    )
    return Message(subject=f"Times for {title}", body=body)


def confirmation(
    slot: datetime,
    *,
    language: str,
    attendee_name: str,
    organizer_name: str,
    title: str,
    time_zone: str,
    email: str,
) -> Message:
    """The attendee's confirmation on the channel they negotiated on."""
    at = when(slot, time_zone, language)
    if lang(language) == "ar":
        return Message(
            subject=f"تأكيد: {title}",
            body=f"تم التأكيد يا {attendee_name}: «{title}» مع {organizer_name} يوم {at}"
            f" (بتوقيت {time_zone}). "
            f"أرسلنا دعوة التقويم إلى {email}.",
        )
    return Message(
        subject=f"Confirmed: {title}",
        body=f'Confirmed, {attendee_name}: "{title}" with {organizer_name} on {at} ({time_zone}). '
        f"A calendar invitation is on its way to {email}.",
    )


def attendee_invitation(
    slot: datetime,
    end: datetime,
    *,
    language: str,
    title: str,
    organizer_name: str,
    organizer_email: str,
    time_zone: str,
    booking_id: str,
) -> Message:
    """The attendee's calendar invitation (email), in their language and time zone."""
    start_at, end_at = when(slot, time_zone, language), end.astimezone(zone(time_zone)).strftime("%H:%M")
    if lang(language) == "ar":
        return Message(
            subject=f"دعوة: {title}",
            body="\n".join(
                (
                    f"«{title}»",
                    f"الموعد: {start_at} - {end_at} (بتوقيت {time_zone})",
                    f"المنظم: {organizer_name} <{organizer_email}>",
                    f"رقم الحجز: {booking_id}",
                )
            ),
        )
    return Message(
        subject=f"Invitation: {title}",
        body=f"{title}\nWhen: {start_at} - {end_at} ({time_zone})\nOrganizer: {organizer_name} "
        f"<{organizer_email}>\nBooking: {booking_id}",
    )


def organizer_invitation(
    slot: datetime, end: datetime, *, title: str, attendee_name: str, attendee_email: str, booking_id: str
) -> Message:
    """The organizer's calendar invitation (email, UTC: their calendar shows it in their own zone)."""
    return Message(
        subject=f"Invitation: {title}",
        body=f"{title}\nWhen: {slot:%Y-%m-%d %H:%M} - {end:%H:%M} UTC"
        f"\nWith: {attendee_name} <{attendee_email}>"
        f"\nBooking: {booking_id}",
    )


def cancellation_notice(*, language: str, title: str, slot: datetime, time_zone: str) -> Message:
    """The undo of an invitation: the meeting is cancelled, and why (``{reason}`` is filled in when sent)."""
    at = when(slot, time_zone, language)
    if lang(language) == "ar":
        return Message(
            subject=f"إلغاء: {title}", body=f"نأسف، أُلغي اجتماع «{title}» يوم {at}. السبب: {{reason}}"
        )
    return Message(subject=f"Cancelled: {title}", body=f'Sorry, "{title}" on {at} is cancelled: {{reason}}')
