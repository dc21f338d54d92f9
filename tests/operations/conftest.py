# The fake Xero and its Sites, as the Xero tests have them.
from tests.xero.conftest import fake_xero, fake_xero_settings, private_site  # noqa: F401
from tests.xero.test_tasks_rq import (  # noqa: F401
    redis_database,
    redis_process,
    redis_server,
    rq_environment,
)
