"""The BULK wire protocol without I/O: JSON codec, subscriptions, signed bytes, keys."""

from .codec import decode, encode_post, encode_subscribe, encode_unsubscribe
from .subscriptions import Subscription

__all__ = ["Subscription", "decode", "encode_post", "encode_subscribe", "encode_unsubscribe"]
