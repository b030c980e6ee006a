"""The core domain of ChatDesk: one module per noun, re-exported here."""
from .sites import Site, Product, site_origin_allowed
from .visitors import Visitor, PageView
from .conversations import Conversation, Message, Note
from .carts import Cart, CartSnapshot, CartEvent, CHECKOUT_STEPS, CHECKOUT_STEP_ORDER
from .commerce import Order, OrderLine, Offer, OFFER_KINDS, CLOSE_REASONS
from .interventions import InterventionRule, InterventionAssignment, InterventionEvent
from .followups import FollowUpStep, FollowUp, CallTask, ContactOptOut
from .webhooks import WebhookDelivery
from .routing import Assignment, LeftMessage

__all__ = [
    "Site", "Product", "site_origin_allowed", "Visitor", "PageView", "Conversation", "Message",
    "Note", "Cart", "CartSnapshot", "CartEvent", "CHECKOUT_STEPS", "CHECKOUT_STEP_ORDER",
    "Order", "OrderLine", "Offer", "OFFER_KINDS", "CLOSE_REASONS",
    "InterventionRule", "InterventionAssignment", "InterventionEvent",
    "FollowUpStep", "FollowUp", "CallTask", "ContactOptOut", "WebhookDelivery", "Assignment", "LeftMessage",
]
