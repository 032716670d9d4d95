"""The sequence's templates: per campaign, one per role in the sequence (the opening message, follow-ups, the
last note), in English and Arabic (Modern Standard Arabic: the personalisation adapts it to the dialect).

``template_for(campaign, step_no, max_messages, language)`` chooses the template of message ``step_no``;
``render`` fills in the contact; ``with_footer`` adds the opt-out line every message carries (never left to
the model).
"""

from __future__ import annotations

from dataclasses import dataclass

from include.domain.common import Message
from workflows.outreach_sequence.domain.contact import Contact

CAMPAIGNS = ("partnership_intro", "product_demo")
ROLES = ("opening", "follow_up_1", "follow_up_2", "last_note")
SENDER = "Execution Plane"


@dataclass(frozen=True)
class Template:
    key: str
    """``<campaign>.<role>.<language>``: what the message id is derived from (with the step and recipient)."""
    language: str
    subject: str
    body: str


_TEXTS: dict[tuple[str, str, str], tuple[str, str]] = {
    # (campaign, role, language): (subject, body)
    ("partnership_intro", "opening", "en"): (
        "{sender} x {company}: a partnership?",
        "Hello {first_name}, I am {owner_name} from {sender}. We help companies like {company} onboard and "
        "manage partners in days instead of weeks. Would a partnership be of interest to {company}?",
    ),
    ("partnership_intro", "follow_up_1", "en"): (
        "Following up: {sender} x {company}",
        "Hello {first_name}, following up on my note about a partnership between {sender} and {company}. "
        "Partners of ours cut their onboarding time by half. Is this worth a short conversation?",
    ),
    ("partnership_intro", "follow_up_2", "en"): (
        "A partnership with {company}",
        "Hello {first_name}, one more thought: our partners in your region get joint marketing and a "
        "dedicated contact. Happy to share how it works for {company}.",
    ),
    ("partnership_intro", "last_note", "en"): (
        "Closing the loop",
        "Hello {first_name}, I will not write again about this. If a partnership with {sender} becomes "
        "interesting for {company}, just reply to this message. {owner_name}",
    ),
    ("product_demo", "opening", "en"): (
        "A 20-minute demo for {company}?",
        "Hello {first_name}, I am {owner_name} from {sender}. Teams like yours at {company} use us to run "
        "their approvals and signatures end to end. Would a 20-minute demo be useful?",
    ),
    ("product_demo", "follow_up_1", "en"): (
        "Following up: a demo for {company}",
        "Hello {first_name}, following up on the demo I offered. I can show it on your own workflow in "
        "20 minutes. Would next week suit you?",
    ),
    ("product_demo", "follow_up_2", "en"): (
        "What {company} could automate",
        "Hello {first_name}, customers like {company} usually start with partner approvals and e-signature. "
        "Happy to walk you through it whenever suits you.",
    ),
    ("product_demo", "last_note", "en"): (
        "Closing the loop",
        "Hello {first_name}, I will not write again about the demo. If it becomes useful for {company}, "
        "just reply to this message. {owner_name}",
    ),
    ("partnership_intro", "opening", "ar"): (
        "{sender} و{company}: شراكة؟",
        "مرحباً {first_name}، معك {owner_name} من {sender}. نساعد شركات مثل {company} على ضم الشركاء "
        "وإدارتهم في أيام بدلاً من أسابيع. هل تهتم {company} بشراكة معنا؟",
    ),
    ("partnership_intro", "follow_up_1", "ar"): (
        "متابعة: {sender} و{company}",
        "مرحباً {first_name}، أتابع رسالتي السابقة بشأن شراكة بين {sender} و{company}. شركاؤنا اختصروا وقت "
        "ضم الشركاء إلى النصف. هل يستحق الأمر محادثة قصيرة؟",
    ),
    ("partnership_intro", "follow_up_2", "ar"): (
        "شراكة مع {company}",
        "مرحباً {first_name}، فكرة أخرى: يحصل شركاؤنا في منطقتكم على تسويق مشترك ومسؤول متابعة مخصص. "
        "يسعدني أن أشرح كيف يعمل ذلك مع {company}.",
    ),
    ("partnership_intro", "last_note", "ar"): (
        "ختام المتابعة",
        "مرحباً {first_name}، لن أراسلك مجدداً بهذا الشأن. إن أصبحت الشراكة مع {sender} مفيدة لـ{company} "
        "فيكفي الرد على هذه الرسالة. {owner_name}",
    ),
    ("product_demo", "opening", "ar"): (
        "عرض توضيحي لـ{company} في عشرين دقيقة؟",
        "مرحباً {first_name}، معك {owner_name} من {sender}. تستخدمنا فرق مثل فريقكم في {company} لإدارة "
        "الموافقات والتوقيعات من البداية إلى النهاية. هل يفيدكم عرض توضيحي في عشرين دقيقة؟",
    ),
    ("product_demo", "follow_up_1", "ar"): (
        "متابعة: عرض توضيحي لـ{company}",
        "مرحباً {first_name}، أتابع بخصوص العرض التوضيحي. يمكنني عرضه على سير عملكم في عشرين دقيقة. "
        "هل يناسبكم الأسبوع القادم؟",
    ),
    ("product_demo", "follow_up_2", "ar"): (
        "ما يمكن لـ{company} أتمتته",
        "مرحباً {first_name}، يبدأ عملاء مثل {company} عادة بموافقات الشركاء والتوقيع الإلكتروني. يسعدني "
        "أن أشرح ذلك في الوقت الذي يناسبكم.",
    ),
    ("product_demo", "last_note", "ar"): (
        "ختام المتابعة",
        "مرحباً {first_name}، لن أراسلك مجدداً بشأن العرض التوضيحي. إن أصبح مفيداً لـ{company} فيكفي الرد "
        "على هذه الرسالة. {owner_name}",
    ),
}

_FOOTERS = {
    ("en", "email"): "To stop these emails, reply STOP or use the unsubscribe link.",
    ("en", "whatsapp"): "Reply STOP to stop these messages.",
    ("en", "sms"): "Reply STOP to opt out.",
    ("ar", "email"): "لإيقاف هذه الرسائل أرسل STOP أو استخدم رابط إلغاء الاشتراك.",
    ("ar", "whatsapp"): "للتوقف عن تلقي هذه الرسائل أرسل STOP.",
    ("ar", "sms"): "للتوقف أرسل STOP.",
}


def language_of(contact: Contact) -> str:
    """The template language: Arabic for Arabic speakers, English for everyone else."""
    return "ar" if contact.writes_arabic else "en"


def role_for(step_no: int, max_messages: int) -> str:
    """The opening first, the last note last (when there is more than one message), follow-ups between."""
    if step_no < 1 or step_no > max_messages:
        raise ValueError(f"message {step_no} is not in a sequence of {max_messages}")
    if step_no == 1:
        return "opening"
    if step_no == max_messages:
        return "last_note"
    return "follow_up_1" if step_no % 2 == 0 else "follow_up_2"


def template_for(campaign: str, step_no: int, max_messages: int, language: str) -> Template:
    if campaign not in CAMPAIGNS:
        raise ValueError(f"unknown campaign {campaign!r}; one of {CAMPAIGNS}")
    role = role_for(step_no, max_messages)
    subject, body = _TEXTS[(campaign, role, language)]
    return Template(key=f"{campaign}.{role}.{language}", language=language, subject=subject, body=body)


def render(template: Template, contact: Contact) -> Message:
    """The template filled in for ``contact`` (the draft the personalisation starts from)."""
    fields = {
        "first_name": contact.first_name,
        "company": contact.company or contact.full_name,
        "owner_name": contact.owner_name or SENDER,
        "sender": SENDER,
    }
    return Message(subject=template.subject.format(**fields), body=template.body.format(**fields))


def with_footer(body: str, language: str, channel: str) -> str:
    """The message as sent: its text, then the opt-out line of its language and channel."""
    return f"{body.rstrip()}\n\n{_FOOTERS[(language, channel)]}"
