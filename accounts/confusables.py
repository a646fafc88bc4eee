r"""Look-alike email addresses: the UTS #39 skeleton of an address.

Two strings that a person cannot tell apart (`kiss@example.com`, `k\u0131ss@` with a
dotless i, `ki\u017fs@` with a long s, `kiss@\u0435xample.com` with a Cyrillic ie) have
the same skeleton. The skeleton is UTS #39's (NFD, every code point replaced by its
prototype from Unicode's confusables.txt, NFD again) applied after NFKC case folding and
dropping invisible format characters, because addresses are compared without case (which
is what turns the long s into `s`).

The confusables data comes from the confusable-homoglyphs package (kept up to date with
Unicode's security data and used by django-registration for the same purpose). It stores
each line of confusables.txt both ways; the prototype of a code point is read back from
that: a code point listed with one partner that has more is a source mapped to it, one
with several is a prototype; an isolated pair maps both to the smaller string, which keeps
equality of skeletons exact.
"""

import json
import unicodedata
from functools import cache
from pathlib import Path


@cache
def _prototypes() -> dict[str, str]:
    import confusable_homoglyphs

    path = Path(confusable_homoglyphs.__file__).with_name("confusables.json")
    pairs: dict[str, list[str]] = {
        char: [entry["c"] for entry in entries]
        for char, entries in json.loads(path.read_text(encoding="utf-8")).items()
    }
    mapping = {}
    for char, partners in pairs.items():
        if len(char) != 1 or len(partners) != 1:
            continue  # a prototype (several sources) or a multi-character target
        partner = partners[0].replace("\u200e", "")  # strip the bidi marks of the data file
        if len(pairs.get(partners[0], ())) > 1 or len(partner) > 1:
            mapping[char] = partner  # a source: its one partner is its prototype
        else:
            mapping[char] = min(char, partner)  # an isolated pair: one representative
    return mapping


def skeleton(value: str) -> str:
    """Return the skeleton of a string: equal skeletons look the same to a person."""
    prototypes = _prototypes()
    folded = unicodedata.normalize("NFKC", value or "").casefold()
    folded = "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")  # invisible
    decomposed = unicodedata.normalize("NFD", folded)
    return unicodedata.normalize("NFD", "".join(prototypes.get(ch, ch) for ch in decomposed))


def email_skeleton(email: str) -> str:
    return skeleton((email or "").strip())
