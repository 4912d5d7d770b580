"""Runs localstripe (a stateful Stripe stand-in from PyPI) for Levy's tests: on 127.0.0.1 only, on the port given,
holding its objects in memory only (localstripe itself binds every interface and pickles its whole store, card
numbers included, to /tmp/localstripe.pickle after every change), and taking four-digit security codes as Stripe
does (localstripe takes exactly three: it would force the tests onto a three-digit code, which the card-data scan
cannot tell from any other three-digit number in an export)."""
import sys

from aiohttp import web
from localstripe import resources, server

resources.Store.dump_to_disk = lambda self: None

_payment_method_init = resources.PaymentMethod.__init__


def _payment_method_with_four_digit_codes(self, *args, card=None, **kwargs):
    if isinstance(card, dict) and isinstance(card.get("cvc"), str) and len(card["cvc"]) == 4 and card["cvc"].isdigit():
        card = dict(card, cvc=card["cvc"][:3])
    _payment_method_init(self, *args, card=card, **kwargs)


resources.PaymentMethod.__init__ = _payment_method_with_four_digit_codes
web.run_app(server.app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
