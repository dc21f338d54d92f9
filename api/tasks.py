"""Background tasks of the API: webhook deliveries never run in a request or a fleet check."""

from django_tasks import task

from . import webhooks


@task()
def deliver(*, delivery_id: int) -> str:
    """One attempt of one webhook delivery (retries queue themselves); its state after."""
    return webhooks.delivery_attempt(delivery_id=delivery_id)
