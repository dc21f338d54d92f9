"""The keys of the setup procedure's steps, below everything that names them.

Each key is the anchor of its section of the setup page, the name of its template, and what
a failure's ``step`` says fixes it: ``xero/exceptions.py`` names them, ``xero/steps.py``
builds the procedure from them (and from the models, which import the exceptions).
"""

STEP_APP_CENTRE = "open_xero"
STEP_APPLICATION = "create_application"
STEP_DETAILS = "xero_details"
STEP_TEST = "connection_test"
