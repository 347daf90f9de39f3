"""Template repositories: plain directories and git repositories read at any number of revisions at once.

``RepoManager`` keeps the list (add/remove/refresh, default repository and revisions) and turns workflow
expressions ``[repo/workflows/]name[@rev]`` into ``TemplateSource`` objects; ``GitSource`` reads one
commit straight from git objects.
"""

from .gitsource import GitSource
from .listing import WorkflowTemplateInfo
from .locations import RepoLocation, parse_location
from .manager import AddResult, RepoListing, RepoManager, RepoStatus

__all__ = [
    "AddResult",
    "GitSource",
    "RepoListing",
    "RepoLocation",
    "RepoManager",
    "RepoStatus",
    "WorkflowTemplateInfo",
    "parse_location",
]
