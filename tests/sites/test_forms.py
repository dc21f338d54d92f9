import pytest

from sites.forms import SiteXeroDetailsForm
from sites.validators import MESSAGES
from tests.conftest import CONSUMER_KEY, CONSUMER_SECRET


def form_data(**overrides):
    data = {
        "name": "Acme Pty Ltd",
        "code": "acme",
        "connection_type": "private_app",
        "api_key": CONSUMER_KEY,
        "payroll_enabled": "on",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    "pasted",
    [
        f"  {CONSUMER_KEY}  ",
        f"{CONSUMER_KEY}\n",
        f"\t{CONSUMER_KEY[:15]}\r\n{CONSUMER_KEY[15:]}",
        f"\u200b{CONSUMER_KEY}\ufeff",
        f"{CONSUMER_KEY[:10]} {CONSUMER_KEY[10:]}",
    ],
)
def test_pasted_api_key_is_cleaned_of_spaces_breaks_and_zero_width_marks(db, pasted):
    form = SiteXeroDetailsForm(data=form_data(api_key=pasted))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["api_key"] == CONSUMER_KEY


def test_pasted_api_secret_is_cleaned_too(db):
    form = SiteXeroDetailsForm(data=form_data(new_api_secret=f" {CONSUMER_SECRET}\n\u200d"))
    assert form.is_valid(), form.errors
    assert form.instance.api_secret == CONSUMER_SECRET


@pytest.mark.parametrize(
    ("api_key", "code"),
    [
        ("QZ7KJ1M2N3B4V5C6X7Z8L9K0J1H2YÇ", "api_key_characters"),
        ("QZ7KJ1M2N3B4V5C6X7Z8L9K0J1H2Y€", "api_key_characters"),
        ("QZ7KJ1M2N3B4V5C6X7Z8.9K0J1H2YC", "api_key_characters"),
        ("SHORTKEY", "api_key_length"),
        ("A" * 65, "api_key_length"),
        ("A" * 5000, "api_key_length"),
    ],
)
def test_bad_api_key_gets_a_form_error(db, api_key, code):
    form = SiteXeroDetailsForm(data=form_data(api_key=api_key))
    assert not form.is_valid()
    assert form.has_error("api_key", code)
    assert len(form.errors["api_key"]) == 1


def test_length_error_says_how_long_the_pasted_value_was(db):
    form = SiteXeroDetailsForm(data=form_data(api_key="SHORTKEY"))
    form.is_valid()
    assert form.errors["api_key"] == [MESSAGES["api_key_length"] % {"length": 8}]


@pytest.mark.parametrize(
    ("secret", "code"),
    [
        ("sécret-with-accent-1234", "api_secret_characters"),
        ("tooshort", "api_secret_length"),
        ("S" * 129, "api_secret_length"),
    ],
)
def test_bad_api_secret_gets_a_form_error(db, secret, code):
    form = SiteXeroDetailsForm(data=form_data(new_api_secret=secret))
    assert not form.is_valid()
    assert form.has_error("new_api_secret", code)


def test_secret_is_never_rendered_back_into_the_form(site):
    form = SiteXeroDetailsForm(instance=site, data=form_data(new_api_secret=CONSUMER_SECRET))
    form.is_valid()
    assert CONSUMER_SECRET not in str(form)


def test_blank_secret_keeps_the_stored_one(site):
    form = SiteXeroDetailsForm(instance=site, data=form_data(new_api_secret=""))
    assert form.is_valid(), form.errors
    assert form.instance.api_secret == CONSUMER_SECRET


def test_clear_box_removes_the_stored_secret(site):
    form = SiteXeroDetailsForm(instance=site, data=form_data(clear_api_secret="on"))
    assert form.is_valid(), form.errors
    assert form.instance.api_secret == ""


def test_new_secret_and_clear_together_are_refused(site):
    form = SiteXeroDetailsForm(
        instance=site, data=form_data(new_api_secret=CONSUMER_SECRET, clear_api_secret="on")
    )
    assert not form.is_valid()
    assert form.has_error("__all__", "secret_new_and_clear")


def test_posting_another_interconnect_id_is_refused(site):
    form = SiteXeroDetailsForm(instance=site, data=form_data(interconnect_id="OTHER"))
    assert not form.is_valid()
    assert form.has_error("__all__", "interconnect_id_locked")


def test_posting_the_same_interconnect_id_is_harmless(site):
    form = SiteXeroDetailsForm(instance=site, data=form_data(interconnect_id="IMAGATEC"))
    assert form.is_valid(), form.errors
