"""The unit of work: one transaction, the repositories bound to it, explicit commit."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Protocol, cast

from sqlalchemy import Connection, Engine, NestedTransaction, Select
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import InterfaceError as SAInterfaceError

from civicloud.clock import Clock, IdSource, random_ids, system_clock
from civicloud.domain.events import DomainEvent
from civicloud.errors import CivicloudError, Conflict, InvalidInput, Unavailable
from civicloud.store.repositories import (
    AgreementRepository,
    AllocationRepository,
    AuditRepository,
    BillingRepository,
    ClaimRepository,
    CredentialRepository,
    HostRepository,
    IdempotencyRepository,
    MemberRepository,
    NetworkRepository,
    OfferingRepository,
    OfferRepository,
    PlacementGroupRepository,
    PortRepository,
    PriceBookRepository,
    RateLimitRepository,
    RevisionRepository,
    SecurityGroupRepository,
    SiteRepository,
    TokenRepository,
    UsageRecordRepository,
    UsageSampleRepository,
    UserRepository,
    WorkloadRepository,
)
from civicloud.store.transaction import after_commit, current_transaction
from civicloud.store.wakeups import channel


class UnitOfWork(Protocol):
    members: MemberRepository
    agreements: AgreementRepository
    sites: SiteRepository
    offers: OfferRepository
    hosts: HostRepository
    offerings: OfferingRepository
    workloads: WorkloadRepository
    allocations: AllocationRepository
    claims: ClaimRepository
    credentials: CredentialRepository
    groups: PlacementGroupRepository
    usage: UsageSampleRepository
    usage_records: UsageRecordRepository
    price_books: PriceBookRepository
    billing: BillingRepository
    audit: AuditRepository
    idempotency: IdempotencyRepository
    users: UserRepository
    tokens: TokenRepository
    rate_limits: RateLimitRepository
    revisions: RevisionRepository
    networks: NetworkRepository
    ports: PortRepository
    security_groups: SecurityGroupRepository
    clock: Clock  # now, for everything done in this unit of work
    new_id: IdSource  # a new id

    def emit(self, *events: DomainEvent) -> None: ...
    def signal(self, name: str) -> None: ...
    def __enter__(self) -> UnitOfWork: ...
    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None, /) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...


class SqlUnitOfWork:
    """``with uow: ...; uow.commit()`` — anything not committed is rolled back on exit.

    ``clock`` and ``new_id`` are the composition root's notion of now and of new ids (``civicloud.clock``):
    services read them here, never the wall clock.

    Database errors leave as CivicloudError: a constraint violation is a
    Conflict, a value the column cannot hold is InvalidInput, a lost
    connection is Unavailable.

    While a ``SharedTransaction`` of the same engine is current (an API request), the unit of work joins
    it as a savepoint instead: ``commit`` releases the savepoint, and the request's transaction commits
    everything together (``store/transaction.py``).
    """

    def __init__(self, engine: Engine, clock: Clock = system_clock, new_id: IdSource = random_ids,
                 listeners: Mapping[str, Callable[[], None]] | None = None, *, notify: bool = False,
                 savepoint: bool = True) -> None:
        self._engine = engine
        # False: inside a request's transaction, writes that need no undoing of their own — the request's last
        # ones (its audit entry, its idempotent answer): if they fail, the whole transaction is rolled back.
        self._own_savepoint = savepoint
        self._shared = False  # inside a request's transaction (``store.transaction``)
        self._raw: Connection | None = None  # the request's connection then
        self._pending = False  # its savepoint is yet to be taken, at the block's first write
        self._notify = notify  # PostgreSQL: NOTIFY each signal in the transaction (store/wakeups.py)
        self.clock = clock
        self.new_id = new_id
        self._listeners = listeners or {}
        self._events: list[DomainEvent] = []
        self._signals: set[str] = set()
        self._conn: Connection | None = None
        self._savepoint: NestedTransaction | None = None

    def __enter__(self) -> SqlUnitOfWork:
        shared = current_transaction(self._engine)
        try:
            self._shared = shared is not None
            if shared is not None:
                conn = shared.connection()
                self._raw = conn
                self._savepoint = None
                self._pending = self._own_savepoint  # the savepoint is taken at the block's first write
                conn = cast(Connection, _InRequest(conn, self))
            else:
                conn = self._engine.connect()
                conn.begin()
        except (OperationalError, SAInterfaceError) as exc:
            raise Unavailable(f"the database cannot be reached ({type(exc.orig).__name__}); "
                              "check CIVICLOUD_DATABASE_URL and that the server is up",
                              code="civicloud.store.unavailable") from exc
        self._conn = conn
        self.members = MemberRepository(conn)
        self.agreements = AgreementRepository(conn)
        self.sites = SiteRepository(conn)
        self.offers = OfferRepository(conn)
        self.hosts = HostRepository(conn)
        self.offerings = OfferingRepository(conn)
        self.workloads = WorkloadRepository(conn)
        self.allocations = AllocationRepository(conn)
        self.claims = ClaimRepository(conn)
        self.credentials = CredentialRepository(conn)
        self.groups = PlacementGroupRepository(conn)
        self.usage = UsageSampleRepository(conn)
        self.usage_records = UsageRecordRepository(conn)
        self.price_books = PriceBookRepository(conn)
        self.billing = BillingRepository(conn)
        self.audit = AuditRepository(conn)
        self.idempotency = IdempotencyRepository(conn)
        self.users = UserRepository(conn)
        self.tokens = TokenRepository(conn)
        self.rate_limits = RateLimitRepository(conn)
        self.revisions = RevisionRepository(conn)
        self.networks = NetworkRepository(conn)
        self.ports = PortRepository(conn)
        self.security_groups = SecurityGroupRepository(conn)
        self._events = []
        self._signals = set()
        return self

    def emit(self, *events: DomainEvent) -> None:
        """Record what the control plane did by itself (``domain.events``): the next ``commit`` writes each as
        an audit entry in the same transaction as the change; leaving without commit forgets them."""
        self._events.extend(events)

    def signal(self, name: str) -> None:
        """Tell the listeners of ``name`` (``domain.events.ROOM_CHANGED``: the control loop's wake-up) once this
        change is committed — once the request's whole transaction is, inside one; never if it rolls back."""
        self._signals.add(name)

    def _write_events(self) -> None:
        events, self._events = self._events, []
        now = self.clock()
        self.audit.chain([event.entry(now) for event in events])

    def _take_savepoint(self) -> None:
        """Inside a request's transaction: the block's first write (or nested transaction) takes the savepoint
        that undoes the block's work alone; a block that only reads takes none."""
        if self._pending:
            assert self._raw is not None
            self._pending = False
            self._savepoint = self._raw.begin_nested()

    def commit(self) -> None:
        assert self._conn is not None, "commit outside 'with uow:'"
        if self._events:
            self._write_events()
        if self._notify and self._signals:  # delivered when, and only if, the whole transaction commits
            for name in sorted(self._signals):
                self._conn.exec_driver_sql(f'NOTIFY "{channel(name)}"')
        try:
            if self._shared:
                if self._savepoint is not None:
                    self._savepoint.commit()
                # What follows in the block takes a savepoint of its own at its first write.
                self._savepoint, self._pending = None, self._own_savepoint
            else:
                self._conn.commit()
        except IntegrityError as exc:
            raise _conflict(exc) from exc
        signals, self._signals = self._signals, set()
        for name in sorted(signals):
            listener = self._listeners.get(name)
            if listener is not None:
                after_commit(listener)

    def rollback(self) -> None:
        self._events = []
        self._signals = set()
        if self._shared:
            if self._savepoint is not None and self._savepoint.is_active:
                self._savepoint.rollback()
            self._savepoint, self._pending = None, self._own_savepoint
        elif self._conn is not None and self._conn.in_transaction():
            self._conn.rollback()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        conn, self._conn = self._conn, None
        savepoint, self._savepoint = self._savepoint, None
        if conn is None:
            return
        if self._shared:  # the request's transaction goes on; only this block's work is undone
            if savepoint is not None and savepoint.is_active:
                savepoint.rollback()
        else:
            try:
                if conn.in_transaction():
                    conn.rollback()
            finally:
                conn.close()
        if exc is None or isinstance(exc, CivicloudError):
            return
        if isinstance(exc, IntegrityError):
            raise _conflict(exc) from exc
        if isinstance(exc, DataError):
            raise InvalidInput("a value is out of the range the database can store",
                               code="civicloud.store.value_out_of_range") from exc
        if isinstance(exc, (OperationalError, SAInterfaceError)):
            raise Unavailable("the database failed or is out of reach; retry in a moment",
                              code="civicloud.store.unavailable") from exc


def _conflict(exc: IntegrityError) -> Conflict:
    return Conflict("this conflicts with something that already exists (a name or id must be unique)",
                    code="civicloud.store.conflict")


class _InRequest:
    """The request's connection as a unit of work inside it uses it: a write (anything but a SELECT, a nested
    transaction, the driver's connection) first takes the unit's savepoint (``SqlUnitOfWork._take_savepoint``)."""

    def __init__(self, conn: Connection, uow: SqlUnitOfWork) -> None:
        self._c = conn
        self._uow = uow

    def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(statement, Select):
            self._uow._take_savepoint()
        return self._c.execute(statement, *args, **kwargs)

    def exec_driver_sql(self, statement: str, *args: Any, **kwargs: Any) -> Any:
        self._uow._take_savepoint()
        return self._c.exec_driver_sql(statement, *args, **kwargs)

    def begin_nested(self) -> NestedTransaction:
        self._uow._take_savepoint()
        return self._c.begin_nested()

    @property
    def connection(self) -> Any:
        self._uow._take_savepoint()
        return self._c.connection

    def __getattr__(self, name: str) -> Any:  # dialect, in_transaction, …: read-only
        return getattr(self._c, name)
