"""What production refuses: a short or guessable secret key, placeholder provider credentials."""

from __future__ import annotations

import math
from collections import Counter

PLACEHOLDER_SECRETS = frozenset(
    {"", "change-me", "changeme", "secret", "test", "example", "password", "xxx", "todo"}
)
PLACEHOLDER_WORDS = ("change-me", "changeme", "placeholder", "example", "your-", "your_")
DEFAULT_TWILIO_SID = "AC00000000000000000000000000000000"
MIN_SECRET_BYTES = 32
MIN_BITS_PER_CHAR = 3.0
MIN_DISTINCT = 10
CREDENTIAL_NAMES = ("token", "secret", "password", "key", "sid")
HOW = "generate one with `broadcaster secret`"


def is_placeholder(value: str) -> bool:
    """True for an empty or well-known placeholder secret, or one that says it is one."""
    text = value.strip().lower()
    return (
        text in PLACEHOLDER_SECRETS
        or any(word in text for word in PLACEHOLDER_WORDS)
        or _crossed_out(text)
    )


def _crossed_out(text: str) -> bool:
    """Written with x's ('ACxxxx…', 'sk-xxxx-xxxx'): a run of four and a quarter of it x.
    The run alone also turns up by chance in a random key (about 1 in 25,000 of 43 chars)."""
    return "xxxx" in text and text.count("x") * 4 >= len(text)


def bits_per_char(value: str) -> float:
    """Shannon entropy of the characters of a string (a random key scores 4–6)."""
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def secret_key_problem(value: str) -> str | None:
    """Why this secret key is not fit for production, or None."""
    size = len(value.encode())
    if is_placeholder(value):
        return f"secret_key is a placeholder; {HOW}"
    if size < MIN_SECRET_BYTES:
        return f"secret_key has {size} bytes, production needs at least {MIN_SECRET_BYTES}; {HOW}"
    if len(set(value)) < MIN_DISTINCT or bits_per_char(value) < MIN_BITS_PER_CHAR:
        return f"secret_key has too little entropy (repeated or patterned characters); {HOW}"
    return None


def credential_problems(values: dict[str, str | None]) -> list[str]:
    """Provider credentials, by setting name, that are defaults or placeholders."""
    problems = []
    for name, value in sorted(values.items()):
        if value is None:
            continue
        if name.endswith("account_sid") and value == DEFAULT_TWILIO_SID:
            problems.append(f"{name} is the default placeholder")
        elif is_placeholder(value):
            problems.append(f"{name} is a placeholder")
    return problems


def looks_like_credential(name: str) -> bool:
    return any(part in name.lower() for part in CREDENTIAL_NAMES)
