"""ORM tables: the lead ledger and everything around it (design.md section 2), one module per
aggregate. Every table shares one MetaData with a naming convention; relationships raise on lazy
load, so queries say what they fetch. Import tables from here: ``from leadflow.models import Lead``."""

from leadflow.models.access import (
    ApiToken,
    AuditEntry,
    IdempotentRequest,
    LoginFailure,
    Notification,
    User,
)
from leadflow.models.base import (
    ACTIVITY_KINDS,
    ACTIVITY_OUTCOMES,
    CLOSED_STAGES,
    LEAD_TYPES,
    MAX_ID,
    NAMING_CONVENTION,
    STAGES,
    Base,
    naive_utc,
    utcnow,
)
from leadflow.models.catalog import Company, Partner, PartnerReport, Product, ScoreModel, Source
from leadflow.models.coaching import GOAL_METRICS, CoachingNote, Goal
from leadflow.models.config import SavedView, SettingsVersion
from leadflow.models.lead import Activity, Lead, LeadAlias, LeadChange, StageChange
from leadflow.models.org import Absence, Rep, Team, Territory, rep_territories
from leadflow.models.routing import (
    OPEN_CREDIT,
    Assignment,
    QueuedLead,
    RepLoad,
    RoutingRun,
    RoutingState,
    SlaEvent,
)

__all__ = [
    "ACTIVITY_KINDS",
    "ACTIVITY_OUTCOMES",
    "CLOSED_STAGES",
    "GOAL_METRICS",
    "LEAD_TYPES",
    "MAX_ID",
    "NAMING_CONVENTION",
    "OPEN_CREDIT",
    "STAGES",
    "Absence",
    "Activity",
    "ApiToken",
    "Assignment",
    "AuditEntry",
    "Base",
    "CoachingNote",
    "Company",
    "Goal",
    "IdempotentRequest",
    "Lead",
    "LeadAlias",
    "LeadChange",
    "LoginFailure",
    "Notification",
    "Partner",
    "PartnerReport",
    "Product",
    "QueuedLead",
    "Rep",
    "RepLoad",
    "RoutingRun",
    "RoutingState",
    "SavedView",
    "ScoreModel",
    "SettingsVersion",
    "SlaEvent",
    "Source",
    "StageChange",
    "Team",
    "Territory",
    "User",
    "naive_utc",
    "rep_territories",
    "utcnow",
]
