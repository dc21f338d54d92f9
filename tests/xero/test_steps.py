import datetime

import pytest

from xero.models import ConnectionTest
from xero.steps import DONE, PROBLEM, TODO, setup_steps

NOW = datetime.datetime(2026, 11, 25, 12, 0, tzinfo=datetime.UTC)


def states(site, certificate=None, last_test=None, now=NOW):
    return [
        step.state
        for step in setup_steps(site=site, certificate=certificate, last_test=last_test, now=now)
    ]


def a_test(site, outcome="ok", step=""):
    return ConnectionTest(
        site=site,
        outcome=outcome,
        step=step,
        message=f"{outcome} message",
        connection_type=site.connection_type,
    )


def test_a_new_site_has_everything_to_do(make_site):
    assert states(make_site()) == [TODO, TODO, TODO, TODO]


def test_saved_credentials_and_a_certificate_leave_only_the_test(site, issue_certificate):
    certificate = issue_certificate(site, now=NOW)
    assert states(site, certificate) == [DONE, TODO, DONE, TODO]


def test_a_passing_test_marks_every_step_done(site, issue_certificate):
    certificate = issue_certificate(site, now=NOW)
    assert states(site, certificate, a_test(site)) == [DONE, DONE, DONE, DONE]


@pytest.mark.parametrize(
    ("outcome", "step", "expected"),
    [
        ("signature_invalid", "create_application", [DONE, PROBLEM, DONE, TODO]),
        ("consumer_key_unknown", "xero_details", [DONE, TODO, PROBLEM, TODO]),
        ("rate_limited", "connection_test", [DONE, TODO, DONE, PROBLEM]),
        ("timestamp_refused", "", [DONE, TODO, DONE, PROBLEM]),
    ],
)
def test_a_failed_test_puts_the_problem_at_the_step_that_fixes_it(
    site, issue_certificate, outcome, step, expected
):
    certificate = issue_certificate(site, now=NOW)
    steps = setup_steps(
        site=site, certificate=certificate, last_test=a_test(site, outcome, step), now=NOW
    )
    assert [s.state for s in steps] == expected
    problem = next(s for s in steps if s.state == PROBLEM)
    # The message itself is shown once, with the test's result; a step earlier points there.
    if problem.key == "connection_test":
        assert problem.note == ""
    else:
        label = ConnectionTest.Outcome.label_of(outcome)
        assert problem.note.startswith(f"The last connection test failed here ({label})")
    assert all(f"{outcome} message" not in s.note for s in steps)


def test_a_test_of_the_type_the_site_used_before_is_ignored(site, issue_certificate):
    certificate = issue_certificate(site, now=NOW)
    old = a_test(site, "consumer_key_unknown", "xero_details")
    site.connection_type = "custom_connection"
    assert states(site, certificate, old) == [DONE, TODO, DONE, TODO]


def test_an_expiring_certificate_is_a_problem_even_when_tests_pass(site, issue_certificate):
    certificate = issue_certificate(site, days=30, now=NOW)
    steps = setup_steps(site=site, certificate=certificate, last_test=a_test(site), now=NOW)
    assert steps[1].state == PROBLEM
    assert "expires in 30 days" in steps[1].note


def test_an_expired_certificate_is_a_problem(site, issue_certificate):
    certificate = issue_certificate(site, days=1, now=NOW)
    later = NOW + datetime.timedelta(days=2)
    assert states(site, certificate, now=later)[1] == PROBLEM


def test_a_pending_certificate_asks_to_be_pasted_and_tested(site, issue_certificate):
    issue_certificate(site, now=NOW)
    pending = issue_certificate(site, now=NOW)
    steps = setup_steps(site=site, certificate=pending, last_test=a_test(site), now=NOW)
    assert steps[1].state == TODO
    assert "pending" in steps[1].note


def test_a_custom_connection_needs_no_certificate(make_site):
    site = make_site(
        connection_type="custom_connection",
        api_key="9F1E2D3C4B5A69788796A5B4C3D2E1F0",
        api_secret="custom-connection-secret",
    )
    steps = setup_steps(site=site, certificate=None, last_test=None, now=NOW)
    assert [s.state for s in steps] == [DONE, TODO, DONE, TODO]
    assert steps[0].title.startswith("Log in to Xero's developer portal")
    assert steps[1].title == "Choose the scopes and authorise the organisation"


def test_every_step_renders_from_its_own_template():
    from django.template.loader import get_template

    from xero.steps import ORDER, Step

    for key in ORDER:
        step = Step(key=key, number=1, title="", state=TODO)
        assert get_template(step.template_name).origin.name.endswith(f"xero/steps/{key}.html")


def test_a_pass_that_promoted_the_pending_certificate_is_not_obsolete(
    private_site, issue_certificate, fake_xero_settings
):
    from xero.models import Certificate
    from xero.services import connection_test_run
    from xero.steps import test_superseded

    pending = issue_certificate(private_site)
    fake_xero_settings.register_private_app(private_site.api_key, pending.certificate_pem)
    test = connection_test_run(site=private_site)
    pending.refresh_from_db()
    assert test.passed and pending.state == Certificate.State.ACTIVE
    certificates = list(Certificate.objects.filter(site=private_site))
    assert test_superseded(site=private_site, test=test, certificates=certificates) == ""
    newer = issue_certificate(private_site)
    assert test_superseded(site=private_site, test=test, certificates=[newer, *certificates])
