"""Match leads to accounts (pure): by company e-mail domain, else by normalised company name."""

from __future__ import annotations

import re
import unicodedata

FREE_MAIL_DOMAINS: frozenset[str] = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de", "ymail.com",
    "hotmail.com", "hotmail.co.uk", "hotmail.fr", "hotmail.de", "outlook.com", "outlook.de", "live.com",
    "msn.com", "icloud.com", "me.com", "mac.com", "aol.com", "gmx.de", "gmx.net", "gmx.at", "gmx.ch",
    "web.de", "t-online.de", "freenet.de", "mail.com", "proton.me", "protonmail.com", "zoho.com",
    "yandex.ru", "yandex.com", "mail.ru", "qq.com", "163.com", "126.com", "naver.com", "orange.fr",
    "free.fr", "laposte.net", "libero.it", "seznam.cz", "wp.pl", "o2.pl", "interia.pl",
})  # fmt: skip
_LEGAL_FORMS = re.compile(
    r"\b(inc|incorporated|corp|corporation|co|company|llc|ltd|limited|plc|gmbh|mbh|ag|kg|ohg|se|sa|sas|"
    r"sarl|srl|spa|bv|nv|oy|ab|as|aps|pty|kk|group|holding|holdings)\b"
)


def normalised_company(company: str) -> str:
    """Lower case, accents and punctuation removed, legal forms dropped: "ACME GmbH & Co. KG" -> "acme"."""
    ascii_name = unicodedata.normalize("NFKD", company).encode("ascii", "ignore").decode().lower()
    words = re.sub(r"[^a-z0-9]+", " ", ascii_name.replace(".", ""))  # "S.A." -> "sa"
    return " ".join(_LEGAL_FORMS.sub(" ", words).split())


def account_key(email: str, company: str | None) -> str | None:
    """``domain:<email domain>`` for a company address, else ``company:<normalised name>``, else None."""
    domain = email.rpartition("@")[2].lower()
    if domain and domain not in FREE_MAIL_DOMAINS:
        return f"domain:{domain}"
    name = normalised_company(company) if company else ""
    return f"company:{name}" if name else None
