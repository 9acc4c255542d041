"""Writing systems: which scripts a text uses, its direction, and the installed fonts that
draw each script.

The bundled DejaVu Sans draws Latin, Cyrillic, Greek, Arabic and Hebrew; every other script
needs a font of its own. Fonts come, first to last, from the brand kit (``fonts.headline``,
``fonts.cta``, then ``fonts.scripts.<script>``), the system's Noto families
(Debian/Ubuntu: ``fonts-noto-core``, ``fonts-noto-cjk``; ``make install-system`` installs
them), and the bundled font. A CJK collection (``.ttc``) holds one face per region; the
creative's language picks it (Japanese, Korean, Simplified or Traditional Chinese glyph forms).
"""

from __future__ import annotations

import bisect
import os
from collections import Counter
from functools import lru_cache
from pathlib import Path

# (first code point, last code point, script) of the scripts a font is chosen for; everything
# else (digits, punctuation, symbols, spaces) is "common" and goes with its neighbours.
_RANGES = sorted(
    [
        (0x0041, 0x005A, "latin"), (0x0061, 0x007A, "latin"), (0x00C0, 0x024F, "latin"), (0x1E00, 0x1EFF, "latin"),
        (0x0370, 0x03FF, "greek"), (0x1F00, 0x1FFF, "greek"), (0x0400, 0x052F, "cyrillic"),
        (0x0530, 0x058F, "armenian"), (0x0590, 0x05FF, "hebrew"), (0xFB1D, 0xFB4F, "hebrew"),
        (0x0600, 0x06FF, "arabic"), (0x0750, 0x077F, "arabic"), (0x08A0, 0x08FF, "arabic"),
        (0xFB50, 0xFDFF, "arabic"), (0xFE70, 0xFEFF, "arabic"), (0x0900, 0x097F, "devanagari"),
        (0x0980, 0x09FF, "bengali"), (0x0A00, 0x0A7F, "gurmukhi"), (0x0A80, 0x0AFF, "gujarati"),
        (0x0B00, 0x0B7F, "oriya"), (0x0B80, 0x0BFF, "tamil"), (0x0C00, 0x0C7F, "telugu"),
        (0x0C80, 0x0CFF, "kannada"), (0x0D00, 0x0D7F, "malayalam"), (0x0D80, 0x0DFF, "sinhala"),
        (0x0E00, 0x0E7F, "thai"), (0x0E80, 0x0EFF, "lao"), (0x1000, 0x109F, "myanmar"),
        (0x10A0, 0x10FF, "georgian"), (0x1200, 0x139F, "ethiopic"), (0x1780, 0x17FF, "khmer"),
        (0x1100, 0x11FF, "hangul"), (0x3130, 0x318F, "hangul"), (0xAC00, 0xD7AF, "hangul"),
        (0x3040, 0x30FF, "han"), (0x31F0, 0x31FF, "han"), (0x3400, 0x4DBF, "han"), (0x4E00, 0x9FFF, "han"),
        (0xF900, 0xFAFF, "han"), (0x20000, 0x2FA1F, "han"), (0x3000, 0x303F, "han"), (0xFF00, 0xFFEF, "han"),
    ]
)  # fmt: skip
_STARTS = [start for start, _, _ in _RANGES]
RTL_SCRIPTS = frozenset({"arabic", "hebrew"})
# Scripts written without spaces between words: lines break by word only with a dictionary (ICU).
WORDS_WITHOUT_SPACES = frozenset({"thai", "lao", "khmer", "myanmar"})
BUNDLED_SCRIPTS = frozenset({"latin", "greek", "cyrillic", "arabic", "hebrew"})  # DejaVu Sans has them

FONT_DIRS = (Path("/usr/share/fonts/truetype/noto"), Path("/usr/share/fonts/opentype/noto"))
FONT_DIRS_ENV = "PIXIO_ADS_FONT_DIRS"  # extra folders searched first, separated by os.pathsep
# script -> (Noto family file stem, Debian package)
NOTO = {
    "latin": ("NotoSans", "fonts-noto-core"), "greek": ("NotoSans", "fonts-noto-core"),
    "cyrillic": ("NotoSans", "fonts-noto-core"), "armenian": ("NotoSansArmenian", "fonts-noto-core"),
    "hebrew": ("NotoSansHebrew", "fonts-noto-core"), "arabic": ("NotoSansArabic", "fonts-noto-core"),
    "devanagari": ("NotoSansDevanagari", "fonts-noto-core"), "bengali": ("NotoSansBengali", "fonts-noto-core"),
    "gurmukhi": ("NotoSansGurmukhi", "fonts-noto-core"), "gujarati": ("NotoSansGujarati", "fonts-noto-core"),
    "oriya": ("NotoSansOriya", "fonts-noto-core"), "tamil": ("NotoSansTamil", "fonts-noto-core"),
    "telugu": ("NotoSansTelugu", "fonts-noto-core"), "kannada": ("NotoSansKannada", "fonts-noto-core"),
    "malayalam": ("NotoSansMalayalam", "fonts-noto-core"), "sinhala": ("NotoSansSinhala", "fonts-noto-core"),
    "thai": ("NotoSansThai", "fonts-noto-core"), "lao": ("NotoSansLao", "fonts-noto-core"),
    "myanmar": ("NotoSansMyanmar", "fonts-noto-core"), "georgian": ("NotoSansGeorgian", "fonts-noto-core"),
    "ethiopic": ("NotoSansEthiopic", "fonts-noto-core"), "khmer": ("NotoSansKhmer", "fonts-noto-core"),
    "hangul": ("NotoSansCJK", "fonts-noto-cjk"), "han": ("NotoSansCJK", "fonts-noto-cjk"),
}  # fmt: skip
# Faces of NotoSansCJK-*.ttc, in the collection's order: Japanese, Korean, Simplified Chinese,
# Traditional Chinese (Taiwan), Traditional Chinese (Hong Kong).
_CJK_FACE = {"ja": 0, "ko": 1, "zh": 2, "zh-hans": 2, "zh-cn": 2, "zh-sg": 2, "zh-hant": 3, "zh-tw": 3, "zh-hk": 4}


def script_of(char: str) -> str | None:
    """The script of one character; None for common characters (digits, punctuation, spaces)."""
    point = ord(char)
    index = bisect.bisect_right(_STARTS, point) - 1
    if index >= 0:
        start, end, script = _RANGES[index]
        if start <= point <= end:
            return script
    return None


def scripts_in(text: str) -> list[str]:
    """The scripts of ``text``, most characters first."""
    if text.isascii():
        return ["latin"] if any(char.isalpha() for char in text) else []
    counts = Counter(script for script in map(script_of, text) if script)
    return [script for script, _ in counts.most_common()]


def is_rtl(text: str) -> bool:
    """Whether the text's first strong character is right-to-left (the Unicode bidi rule for
    a paragraph's direction, on the scripts above)."""
    for char in text:
        script = script_of(char)
        if script:
            return script in RTL_SCRIPTS
    return False


def font_spec(path: str | Path, face: int = 0) -> str:
    """A font as the text code takes it: a file, ``#N`` added for face N of a collection."""
    return f"{path}#{face}" if face else str(path)


def split_spec(spec: str) -> tuple[str, int]:
    """(file, face index) from a font spec."""
    path, _, face = str(spec).rpartition("#")
    return (path, int(face)) if path and face.isdigit() else (str(spec), 0)


def _font_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get(FONT_DIRS_ENV, "").split(os.pathsep) if p]
    return [*extra, *FONT_DIRS]


@lru_cache(maxsize=256)
def system_font(script: str, bold: bool, language: str = "") -> str | None:
    """The installed Noto font spec for ``script`` (bold or regular), None when none is."""
    if script not in NOTO:
        return None
    stem, _ = NOTO[script]
    weights = ("Bold", "Regular") if bold else ("Regular", "Bold")
    for folder in _font_dirs():
        for weight in weights:
            for suffix in (".ttf", ".otf", ".ttc"):
                path = folder / f"{stem}-{weight}{suffix}"
                if path.is_file():
                    return font_spec(path, cjk_face(language, script) if suffix == ".ttc" else 0)
    return None


def cjk_face(language: str, script: str) -> int:
    """Which face of a CJK collection draws ``language`` (Korean for hangul whatever the tag)."""
    if script == "hangul":
        return _CJK_FACE["ko"]
    tag = language.lower()
    return _CJK_FACE.get(tag, _CJK_FACE.get(tag.split("-")[0], 0))


def package_for(script: str) -> str:
    """The Debian/Ubuntu package with a font for ``script``."""
    return NOTO.get(script, ("", "fonts-noto-core"))[1]


@lru_cache(maxsize=8192)
def fonts_for(
    text: str, fonts: tuple, language: str = "", bold: bool = True, kit_scripts: tuple = ()
) -> tuple[str, ...]:
    """The font list for ``text``: the brand's fonts (``fonts``, the bundled one last), with the
    kit's fonts (``kit_scripts``: (script, path) pairs) and the system's for each script the
    text needs that the bundled font lacks put before the bundled one."""
    *own, bundled = [str(font) for font in fonts]
    if text.isascii():
        return (*own, bundled)
    kit = dict(kit_scripts)
    extra = []
    for script in scripts_in(text):
        if script in kit:
            extra.append(str(kit[script]))
        if script not in BUNDLED_SCRIPTS:
            found = system_font(script, bold, language)
            if found:
                extra.append(found)
    return tuple(dict.fromkeys([*own, *extra, bundled]))
