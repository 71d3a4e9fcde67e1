"""The v1 viewsets. Each change goes through swapadmin.core.services, like the pages' do.

A change that queues a job answers 202 with the job (``GET jobs/{id}/`` follows it), 409 with
the job that holds the backend, or 400 with messages per field. Nothing is changed on a 400.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from backends import BackendError, registry
from swapadmin.core import actions, edits, history, services
from swapadmin.core.models import AuditEvent, Backend, Host, Job

from . import filters
from . import serializers as api_serializers
from .permissions import RolePermission, actor_for, require
from .serializers import (
    AuditEventSerializer,
    BackendCreateSerializer,
    BackendEditSerializer,
    BackendHistorySerializer,
    BackendSerializer,
    ConflictSerializer,
    DiscoverSerializer,
    DynamicSwapSerializer,
    EmptySerializer,
    ErrorSerializer,
    HistoryQuerySerializer,
    HostHistorySerializer,
    HostSerializer,
    JobSerializer,
    PluginSerializer,
    TuneSerializer,
)


class RevokedSerializer(serializers.Serializer[Any]):
    host = serializers.UUIDField()
    revoked = serializers.ListField(
        child=serializers.CharField(),
        help_text="the database roles revoked; empty when the host had no live credential",
    )


# The answers every view gives (400, 401, 403, 404, ...) are added by .schema.AutoSchema.
QUEUED = {202: OpenApiResponse(JobSerializer, description="queued: the job, to follow at its url")}
HOST_BUSY = {
    409: OpenApiResponse(
        ConflictSerializer,
        description="refused for now: ``job`` is a job of the same kind, queued or running",
    )
}
BACKEND_BUSY = {
    409: OpenApiResponse(
        ConflictSerializer,
        description="refused for now: busy (``job`` is the one holding the backend), or the "
        "backend's store was never proven swapadmin's (``job`` is null; ``detail`` says why)",
    )
}
ACTED = {**QUEUED, **BACKEND_BUSY}


def queued(job: Job, request: Request) -> Response:
    job = Job.objects.select_related("host", "backend", "requested_by").get(pk=job.pk)
    body = JobSerializer(job, context={"request": request}).data
    return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": str(body["url"])})


def conflict(e: services.Conflict, request: Request, kind: str, obj: Host | Backend) -> Response:
    job = JobSerializer(e.job, context={"request": request}).data
    return Response({"detail": e.message, "job": job}, status=status.HTTP_409_CONFLICT)


def not_ready(e: services.NotReady) -> Response:
    return Response({"detail": e.message, "job": None}, status=status.HTTP_409_CONFLICT)


def history_window(request: Request) -> history.Window:
    """The range and step of a history request; a 400 naming the parameter otherwise."""
    query = HistoryQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    asked = query.validated_data
    try:
        return history.window(asked.get("since"), asked.get("until"), asked.get("step"))
    except history.BadRange as e:
        raise ValidationError({e.param: [e.message]}) from None


def invalid(e: services.InvalidRequest, top_level: set[str] | None = None) -> ValidationError:
    """The services' field errors as a DRF 400. Errors about a plugin parameter (any field
    that is not a top-level one) go under ``params``, where the caller put the value."""
    if top_level is None:
        return ValidationError(e.errors)
    body: dict[str, Any] = {}
    for name, messages in e.errors.items():
        if name in top_level:
            body[name] = messages
        else:
            body.setdefault("params", {})[name] = messages
    return ValidationError(body)


class ApiDefaults:
    """Bodies are JSON (``params`` is an object, which form encodings cannot carry). Any id
    in a URL reaches the view, so a malformed one is DRF's JSON 404, not Django's HTML one."""

    parser_classes: Sequence[type[BaseParser]] = [JSONParser]
    lookup_value_regex = "[^/]+"


class ListColumns:
    """A list leaves out the columns that cost most and that its serializer never shows.
    ``list_related`` names the only columns read of a related row: a host row carries
    kilobytes of ``observed`` JSON and a dozen columns a backend's line never shows; decoding
    them for each of 1000 backends on a page was a third of the page's time. ``list_skipped``
    names the list's own large columns that no field reads, the worker's bookkeeping: a
    backend's plugin ``state`` and last read ``header``, JSON decoded for every row (a tenth
    of a 1,000-row page with rows as a worker fills them), and a job's signed spec and its
    signature. The small ones are read: leaving them out saves nothing measurable. Detail
    views and actions keep whole rows (the services read them). A column left out here that
    the serializer does read would cost a query per row: the test
    tests/api/test_a_list_page_costs_the_same_queries_at_any_fleet_size.py catches that."""

    list_related: dict[str, tuple[str, ...]] = {}
    list_skipped: tuple[str, ...] = ()

    def get_queryset(self) -> Any:
        queryset = super().get_queryset()  # type: ignore[misc]
        if getattr(self, "action", None) == "list" and (self.list_related or self.list_skipped):
            own = [
                field.name
                for field in queryset.model._meta.concrete_fields
                if field.name not in self.list_skipped
            ]
            related = [f"{rel}__{col}" for rel, cols in self.list_related.items() for col in cols]
            queryset = queryset.only(*own, *related)
        return queryset


class HostViewSet(ApiDefaults, viewsets.ReadOnlyModelViewSet[Host]):
    queryset = Host.objects.all()
    serializer_class = HostSerializer
    lookup_field = "uuid"
    permission_classes = [RolePermission]
    filterset_class = filters.HostFilter
    ordering_fields = ["name", "last_heartbeat", "created_at"]
    # Revoking a host's credentials is the admin's, as destroying and forgetting are.
    role_actions = {
        "discover": "discover",
        "tune": "tune",
        "revoke": "destroy",
        # It adds and deletes swap files on its own: the admin's, like creating them.
        "dynamic_swap": "settings",
    }

    @extend_schema(request=DiscoverSerializer, responses={**QUEUED, **HOST_BUSY})
    @action(detail=True, methods=["post"])
    def discover(self, request: Request, uuid: str) -> Response:
        """Adopt the swap areas active on the host or listed in its fstab (all of them, or
        only ``paths``)."""
        data = DiscoverSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._host_job(request, "discover", dict(data.validated_data))

    @extend_schema(request=TuneSerializer, responses={**QUEUED, **HOST_BUSY})
    @action(detail=True, methods=["post"])
    def tune(self, request: Request, uuid: str) -> Response:
        """Set vm.swappiness, vm.page-cluster and zswap; optionally keep them in sysctl.d."""
        data = TuneSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._host_job(request, "tune", dict(data.validated_data))

    @extend_schema(
        request=EmptySerializer,
        responses={
            200: OpenApiResponse(RevokedSerializer, description="cut off: its roles revoked"),
            409: OpenApiResponse(ErrorSerializer, description="cannot revoke here (why)"),
        },
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, uuid: str) -> Response:
        """Cut an enrolled host off now: its database role may no longer log in and its
        sessions end, its broker user is switched off and its connections closed."""
        from swapadmin.enroll.services import EnrolError
        from swapadmin.enroll.services import revoke as revoke_host

        host = self.get_object()
        EmptySerializer(data=request.data).is_valid(raise_exception=True)  # JSON, or 415
        try:
            revoked = revoke_host(host, actor_for(request))
        except EnrolError as e:
            return Response({"detail": str(e)}, status=status.HTTP_409_CONFLICT)
        return Response({"host": host.uuid, "revoked": revoked})

    @extend_schema(request=DynamicSwapSerializer, responses=DynamicSwapSerializer)
    @action(detail=True, methods=["get", "patch"], url_path="dynamic-swap")
    def dynamic_swap(self, request: Request, uuid: str) -> Response:
        """The host's dynamic swap policy (off by default), its files and latest decisions;
        PATCH any of its fields. Nothing is saved on a 400."""
        from swapadmin.core import dynamic

        host = self.get_object()
        if request.method == "PATCH":
            data = DynamicSwapSerializer(data=request.data, partial=True)
            data.is_valid(raise_exception=True)
            try:
                dynamic.update_policy(host, dict(data.validated_data), actor_for(request))
            except services.InvalidRequest as e:
                raise invalid(e) from None
        return Response(DynamicSwapSerializer(dynamic.policy_for(host)).data)

    @extend_schema(parameters=[HistoryQuerySerializer], responses=HostHistorySerializer)
    @action(detail=True, methods=["get"])
    def history(self, request: Request, uuid: str) -> Response:
        """Memory, swap, swap-in/out rates and memory PSI over a range, averaged at a step,
        from the stored samples (raw, minute or hour rows, whichever covers the range)."""
        host = self.get_object()
        found = history.host_history(host, history_window(request))
        return Response(HostHistorySerializer({"host": host, **vars(found)}).data)

    def _host_job(self, request: Request, kind: str, params: dict[str, Any]) -> Response:
        host = self.get_object()
        try:
            job = services.request_host_job(host, kind, actor_for(request), params)
        except services.Conflict as e:
            return conflict(e, request, kind, host)
        except services.InvalidRequest as e:
            raise invalid(e) from None
        return queued(job, request)


#: The one backend action the API asks another way than ``POST .../<api_path>/`` (the
#: action table's test pins that it is the only one).
DESTROY = actions.BY_NAME["destroy"]


class BackendViewSet(
    ApiDefaults,
    ListColumns,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.ReadOnlyModelViewSet[Backend],
):
    queryset = Backend.objects.select_related("host")
    serializer_class = BackendSerializer
    lookup_field = "uuid"
    permission_classes = [RolePermission]
    filterset_class = filters.BackendFilter
    list_related = {"host": ("uuid", "name")}
    list_skipped = ("state", "header")
    ordering_fields = ["name", "kind", "size_bytes", "used_bytes", "priority", "created_at"]
    role_actions = {
        "create": "create",
        # Changing what a backend is (its label, swapon options, fstab line) is the admin's.
        "partial_update": "settings",
        # Each action of the table, destroy (DELETE) among them, under its own name.
        **{a.name: a.name for a in actions.BACKEND_ACTIONS},
    }

    @extend_schema(request=BackendCreateSerializer, responses=QUEUED)
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Register a backend and queue its provision job (prepare the store, then mkswap)."""
        data = BackendCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = {"size_bytes": None, **data.validated_data}
        try:
            job = services.create_backend(actor=actor_for(request), **fields)
        except services.InvalidRequest as e:
            raise invalid(e, set(BackendCreateSerializer().fields)) from None
        return queued(job, request)

    @extend_schema(
        request=BackendEditSerializer,
        responses={
            200: OpenApiResponse(BackendSerializer, description="saved: nothing on the host"),
            **ACTED,
        },
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Edit a backend: label (rewritten in the header of an inactive area), priority and
        discard (on an active area now, or at its next activation: ``apply``), persist,
        auto_repair. 202 with the job when the host changes; 200 with the backend when only
        the database does. A field that cannot be edited is refused by name."""
        backend = self.get_object()
        if not isinstance(request.data, dict):
            raise ValidationError({"fields": ["the body must be a JSON object"]})
        try:
            done = edits.edit_backend(backend, actor_for(request), request.data)
        except services.Conflict as e:
            return conflict(e, request, "edit", backend)
        except services.NotReady as e:
            return not_ready(e)
        except services.InvalidRequest as e:
            raise invalid(e) from None
        if done.job is not None:
            return queued(done.job, request)
        return Response(BackendSerializer(done.backend, context={"request": request}).data)

    @extend_schema(
        description=DESTROY.summary,
        parameters=[api_serializers.body_of(DESTROY)],
        responses=ACTED,
    )
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The action table's destroy, asked with ``DELETE /backends/{uuid}/``: its body is
        read from the query when the query names any of its fields, as a DELETE's usually
        is, else from the request's body."""
        body = api_serializers.body_of(DESTROY)
        fields = set(body().fields)
        in_query = not fields.isdisjoint(request.query_params)
        in_body = isinstance(request.data, dict) and not fields.isdisjoint(request.data)
        if in_query and in_body:
            # Read from one place only, a force asked in one and its confirm given in the
            # other would be dropped without a word: refused, naming both.
            raise ValidationError(
                {
                    "fields": [
                        f"give {' and '.join(sorted(fields))} in the query or in the body, not both"
                    ]
                }
            )
        return self._act(request, DESTROY.name, body, request.query_params if in_query else None)

    def _act(
        self,
        request: Request,
        kind: str,
        serializer: type[serializers.Serializer[Any]],
        source: Any = None,
    ) -> Response:
        backend = self.get_object()
        data = serializer(data=request.data if source is None else source)
        data.is_valid(raise_exception=True)
        params = dict(data.validated_data)
        if params.get("force"):
            require(request, "force", backend)
        try:
            job = services.request_action(backend, kind, actor_for(request), params)
        except services.Conflict as e:
            return conflict(e, request, kind, backend)
        except services.NotReady as e:
            return not_ready(e)
        except services.InvalidRequest as e:
            raise invalid(e) from None
        return queued(job, request)

    @extend_schema(parameters=[HistoryQuerySerializer], responses=BackendHistorySerializer)
    @action(detail=True, methods=["get"])
    def history(self, request: Request, uuid: str) -> Response:
        """Bytes of the area in use over a range, averaged at a step, from its host's stored
        samples (a step in which the area was never active has no point)."""
        backend = self.get_object()
        found = history.backend_history(backend, history_window(request))
        return Response(BackendHistorySerializer({"backend": backend, **vars(found)}).data)


def _action_endpoint(spec: actions.BackendAction) -> Any:
    """``POST /backends/{uuid}/<spec.api_path>/``: ``spec``'s job, with its body checked by
    its serializer; described in the schema by the table's words."""
    body = api_serializers.body_of(spec)

    def endpoint(self: BackendViewSet, request: Request, uuid: str) -> Response:
        return self._act(request, spec.name, body)

    endpoint.__name__ = endpoint.__qualname__ = spec.name
    endpoint.__doc__ = spec.summary
    # A reading action (check) runs beside any job: it is never refused with 409.
    described = extend_schema(request=body, responses=QUEUED if spec.reads_only else ACTED)
    return described(action(detail=True, methods=["post"], url_path=spec.api_path)(endpoint))


for _spec in actions.BACKEND_ACTIONS:
    if _spec.api_path is not None:
        setattr(BackendViewSet, _spec.name, _action_endpoint(_spec))
del _spec


class JobViewSet(ApiDefaults, ListColumns, viewsets.ReadOnlyModelViewSet[Job]):
    queryset = Job.objects.select_related("host", "backend", "requested_by")
    serializer_class = JobSerializer
    lookup_field = "uuid"
    permission_classes = [RolePermission]
    filterset_class = filters.JobFilter
    list_related = {
        "host": ("uuid", "name"), "backend": ("uuid",), "requested_by": ("username",),
    }  # fmt: skip
    list_skipped = ("signed_spec", "signature")
    ordering_fields = ["queued_at", "started_at", "finished_at", "state", "kind"]
    role_actions = {"cancel": "cancel"}

    @extend_schema(
        request=EmptySerializer,
        responses={
            200: OpenApiResponse(
                JobSerializer,
                description="cancelled before it started or before its next try, or cancelled "
                "already (asking again of a cancelled job is safe)",
            ),
            202: OpenApiResponse(
                JobSerializer,
                description="running: asked to stop at its next check (one past its last "
                "check finishes, and its log says so). A worker that has not confirmed "
                "SWAPADMIN_CANCEL_GRACE_SECONDS after ``cancel_requested_at`` (its host "
                "offline, or stuck in a system call) has the job failed, and the backend of "
                "a backend's job freed",
            ),
            404: OpenApiResponse(
                ErrorSerializer,
                description="no such job, or it was removed meanwhile (its host forgotten, or "
                "pruned)",
            ),
            409: OpenApiResponse(
                ConflictSerializer,
                description="it had already succeeded or failed, or is in a state this version "
                "does not know (``job.state`` then outside its list): nothing changed",
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, uuid: str) -> Response:
        """Cancel a queued job; a running one is asked to stop at its next check."""
        job = self.get_object()
        try:
            answer = services.cancel_job(job, actor_for(request))
        except Job.DoesNotExist as e:
            raise NotFound(str(e)) from e
        if answer is services.Cancel.REFUSED:
            body = {"detail": services.not_cancelled(job), "job": self._data(job)}
            return Response(body, status=status.HTTP_409_CONFLICT)
        code = status.HTTP_202_ACCEPTED if answer is services.Cancel.ASKED else status.HTTP_200_OK
        return Response(self._data(job), status=code)

    def _data(self, job: Job) -> dict[str, Any]:
        return JobSerializer(job, context={"request": self.request}).data


class AuditEventViewSet(ApiDefaults, ListColumns, viewsets.ReadOnlyModelViewSet[AuditEvent]):
    queryset = AuditEvent.objects.select_related("host")
    serializer_class = AuditEventSerializer
    lookup_field = "uuid"
    permission_classes = [RolePermission]
    filterset_class = filters.AuditEventFilter
    list_related = {"host": ("uuid",)}
    ordering_fields = ["at", "action", "actor_name"]


class PluginViewSet(viewsets.ViewSet):
    """The installed backend kinds, with a JSON Schema for each one's ``params``."""

    permission_classes = [RolePermission]
    lookup_field = "name"
    lookup_value_regex = "[^/]+"
    serializer_class = PluginSerializer

    @extend_schema(responses=PluginSerializer(many=True))
    def list(self, request: Request) -> Response:
        return Response([cls.kind_info() for cls in registry()])

    @extend_schema(responses=PluginSerializer)
    def retrieve(self, request: Request, name: str) -> Response:
        try:
            cls = registry().get(name)
        except BackendError as e:
            raise NotFound(e.message) from None
        return Response(cls.kind_info())
