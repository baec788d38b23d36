"""Expected answer types: "How much does it cost?" is answered by an amount of money, "How many ...?"
by a number, "How fast was the train going?" by a speed. A passage without one does not answer the
question, however close its topic is. "How fast" alone is no speed ("How fast did the agency act?"), nor
is "how far" a distance ("how far into the talks")."""

from __future__ import annotations

import re

__all__ = ["DESCRIBED", "MONEY", "expected_type", "satisfies"]

_MONEY_Q = re.compile(
    r"\bhow\s+much\b.*\b(cost|costs|pay|paid|pays|charge|charged|price|priced|worth|fine|fined|earn|earns|spend|spent|raise|raised|owe)\b"
    r"|\b(what|which)\s+(price|fee|fine|salary|wage|sum|amount)\b",
    re.I,
)
_COUNT_Q = re.compile(r"\bhow\s+many\b", re.I)
_SPEED_Q = re.compile(
    r"\bhow\s+fast\s+(?:was|were|is|are)\b[^?]*\b(?:going|travell?ing|moving|driving|flying|running|sailing)\b"
    r"|\bwhat\s+speed\b",
    re.I,
)
#: a speed: a number and its unit
_SPEED = re.compile(
    r"(?<![\d,.])\d[\d,.]*+\s?(?:km/h|kmh|kph|mph|m/s|knots?|(?:km|kilomet(?:re|er)s?|miles|metres|meters|m)\s+(?:an|a|per)\s+(?:hour|second))",
    re.I,
)
#: what each kind is called when no passage gives it
DESCRIBED = {"money": "an amount of money", "number": "a number", "speed": "a speed"}
#: an amount of money: a currency sign or code before a number, or a currency's name or code after one
MONEY = re.compile(
    r"[$€£¥₹₩₽]\s?\d|\b(?:USD|EUR|GBP|JPY|CNY|CHF|SEK|NOK|DKK|INR)\s?\d|(?<![\d,.])\d[\d,.]*+\s?(?:(?:thousand|million|billion|trillion|m|bn)\s)?"
    r"(?:dollars?|euros?|pounds?|cents?|pence|crowns?|kronor|krona|kroner|krone|francs?|yen|yuan|renminbi|rupees?|"
    r"pesos?|roubles?|rubles?|lira|zloty|shekels?|dirhams?|riyals?|marks?|markka|rand|baht|forint|koruna|korun|lei|leu|"
    r"lev|leva|kuna|dinars?|ringgit|reais|naira|shillings?|guilders?|drachmas?|escudos?|pesetas?|"
    r"USD|EUR|GBP|JPY|CNY|CHF|SEK|NOK|DKK|INR)\b",
    re.I,
)
_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|"
    r"thousand|million|billion|dozen|dozens|hundreds|thousands|millions)\b",
    re.I,
)


def expected_type(question: str) -> str | None:
    if _MONEY_Q.search(question):
        return "money"
    if _COUNT_Q.search(question):
        return "number"
    if _SPEED_Q.search(question):
        return "speed"
    return None


def satisfies(text: str, kind: str | None) -> bool:
    if kind == "money":
        return bool(MONEY.search(text))
    if kind == "number":
        return bool(_NUMBER.search(text))
    if kind == "speed":
        return bool(_SPEED.search(text))
    return True
