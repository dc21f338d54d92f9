"""Template filters of the Xero pages."""

from django import template

from .. import humanize

register = template.Library()

register.filter("ago", humanize.ago)
register.filter("duration", humanize.duration)
