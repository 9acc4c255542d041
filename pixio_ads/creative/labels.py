"""The visible AI label in the creative's language.

Every language of the EU, and Arabic, Hebrew, Hindi, Japanese, Korean, Chinese, Thai, Russian,
Turkish and Ukrainian. A brand kit overrides any of them (``ai_label.translations``) and sets
the English one (``ai_label.text``). Short forms, as the platforms' own labels are ("AI info",
"Made with AI"): the badge sits in a corner of small formats too.
"""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_LABEL = "AI-generated"
LABELS = {
    "en": DEFAULT_LABEL, "bg": "Генерирано с ИИ", "cs": "Vytvořeno pomocí AI", "da": "AI-genereret",
    "de": "KI-generiert", "el": "Δημιουργήθηκε με ΤΝ", "es": "Generado por IA", "et": "Tehisintellekti loodud",
    "fi": "Tekoälyn luoma", "fr": "Généré par IA", "ga": "Gineadh le hIS", "hr": "Generirano pomoću UI",
    "hu": "MI által generált", "it": "Generato con IA", "lt": "Sukurta DI", "lv": "Ģenerēts ar MI",
    "mt": "Iġġenerat bl-IA", "nl": "AI-gegenereerd", "pl": "Wygenerowano przez AI", "pt": "Gerado por IA",
    "ro": "Generat de IA", "sk": "Vytvorené pomocou AI", "sl": "Ustvarjeno z UI", "sv": "AI-genererad",
    "ar": "مُنشأ بالذكاء الاصطناعي", "he": "נוצר בבינה מלאכותית", "hi": "एआई द्वारा निर्मित", "ja": "AI生成",
    "ko": "AI 생성", "zh": "AI生成", "zh-hant": "AI生成", "th": "สร้างโดย AI", "ru": "Создано ИИ",
    "tr": "Yapay zekâ ile üretildi", "uk": "Створено ШІ",
}  # fmt: skip


def label_for(language: str, english: str = DEFAULT_LABEL, overrides: Mapping[str, str] | None = None) -> str:
    """The label text for a BCP 47 language tag: the brand kit's translation, else the table's
    (``pt-BR`` falls back to ``pt``), else the kit's English text."""
    tag = language.lower()
    candidates = (tag, tag.split("-")[0])
    own = {key.lower(): value for key, value in (overrides or {}).items()}
    for candidate in candidates:
        if candidate in own:
            return own[candidate]
    for candidate in candidates:
        if candidate == "en":
            return english
        if candidate in LABELS:
            return LABELS[candidate]
    return english
