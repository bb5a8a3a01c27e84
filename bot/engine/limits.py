"""Message limits every channel must respect; LINE's are the strictest we serve."""

LABEL_MAX = 20          # characters in a button label
BUTTONS_MAX = 13        # quick-reply items under one message
MESSAGES_MAX = 5        # messages in one reply request
TEXT_MAX_UTF16 = 5000   # text length, counted in UTF-16 code units
DATA_MAX = 300          # postback data and display text of a button


def utf16_len(text: str) -> int:
    """Count UTF-16 code units, as LINE does (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2
