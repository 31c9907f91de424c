"""Price books, billing runs, invoices, statements, credit notes and the settlement between members.

One module per concern: ``prices``, ``runs``, ``documents``, ``exports``, ``showback``; their use cases are
named here.

Periods are calendar months in the federation's time zone (Europe/Paris: the
members are French public bodies and their accounts follow the civil month), so
a period's bounds are whole UTC hours and usage records fall wholly inside or
outside it. A billing run:

1. rolls usage up to the period's end;
2. cuts the period where a price book or a borrower's agreement starts or ends,
   and sums the usage records of each piece per (borrower, lender, workload,
   offering, class) in the database;
3. prices each sum with the book in force for that borrower and class on that
   piece (``domain.billing.book_for``), adds the pieces priced by the same book,
   and rounds each line once (``domain.billing`` states the rule);
4. writes the lines, one invoice per borrower and one statement per lender,
   numbered, in one transaction.

A run is idempotent: a period already billed returns its run unchanged. A
lender's use of its own hosts is metered (usage, showback) but not billed.
"""

from civicloud.domain.periods import BILLING_TZ, period_bounds
from civicloud.services.billing.documents import (
    DocumentView,
    credit_note,
    get_document,
    member_invoices,
    member_statements,
)
from civicloud.services.billing.exports import (
    CSV_COLUMNS,
    PERIOD_CSV_COLUMNS,
    document_csv,
    document_csv_file,
    document_facturx,
    period_csv,
)
from civicloud.services.billing.prices import add_price_book, list_price_books, price_at_cost
from civicloud.services.billing.runs import KIND_PREFIX, get_run, list_runs, require_run, run_billing, settlement
from civicloud.services.billing.showback import Showback, member_usage, showback

__all__ = [
    "BILLING_TZ", "CSV_COLUMNS", "KIND_PREFIX", "PERIOD_CSV_COLUMNS", "DocumentView", "Showback", "add_price_book",
    "credit_note", "document_csv", "document_csv_file", "document_facturx", "get_document", "get_run",
    "list_price_books", "list_runs", "member_invoices", "member_statements", "member_usage", "period_bounds",
    "period_csv", "price_at_cost", "require_run", "run_billing", "settlement", "showback",
]
