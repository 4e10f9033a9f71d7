from . import collections_call_outcome
from . import collections_run_preview
from . import collections_compliance_report
from . import collections_statement_import
from . import collections_vulnerable_wizard
from . import collections_risk_confirm
