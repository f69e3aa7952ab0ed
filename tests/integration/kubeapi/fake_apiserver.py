"""A small in-process Kubernetes API server for controller tests (plain HTTP).

Follows the real API's semantics where the controller depends on them: one global monotonic
resourceVersion; LIST returns the current resourceVersion; WATCH replays history after a given
resourceVersion and streams newline-delimited ADDED/MODIFIED/DELETED/BOOKMARK events (chunked);
a resourceVersion older than the compaction point yields an ERROR event with code 410; PUT with a
stale resourceVersion is 409 Conflict; the /status subresource is the only way to change status
of pods and custom resources (and the main resource ignores status); merge patch and JSON patch;
finalizers + deletionTimestamp; metadata.generation bumps on spec changes. Garbage collection of
dependents (really the GC controller's job) is emulated: deleting an owner deletes the objects
whose ownerReferences name its uid, and an object created for an owner that no longer exists is
removed at once. Given deploy/crds, custom resources are validated against their schemas and a field
the schema does not declare is rejected (the real server would prune it silently).

Faults for the clients' error paths (Store.inject): answer matching requests with an HTTP error
(5xx), hang them (no answer until the fault is cleared, then the connection closes), stall them
(served once the fault is cleared), or close the connection without an answer; emit_raw sends a
watch event as given (e.g. nested past any parser's limit). Store.arrivals timestamps every
request, to count a client's requests during a fault window.
"""
import copy
import datetime
import http.server
import json
import socket
import threading
import time
import urllib.parse
import uuid

try:
    import jsonschema
    import yaml
except ImportError:  # schema checks are optional
    jsonschema = yaml = None

RESOURCES = {
    # plural: (group/version, kind, namespaced, has status subresource)
    "pods": ("v1", "Pod", True, True),
    "nodes": ("v1", "Node", False, True),
    "namespaces": ("v1", "Namespace", False, False),
    "events": ("v1", "Event", True, False),
    "configmaps": ("v1", "ConfigMap", True, False),
    "leases": ("coordination.k8s.io/v1", "Lease", True, False),
    "reaperpods": ("reaper.io/v1alpha1", "ReaperPod", True, True),
    "reaperoverlays": ("reaper.io/v1alpha1", "ReaperOverlay", True, True),
    "reaperdaemonjobs": ("reaper.io/v1alpha1", "ReaperDaemonJob", True, True),
    "reapercheckpoints": ("reaper.io/v1alpha1", "ReaperCheckpoint", True, True),
}


class ApiError(Exception):
    def __init__(self, code, reason, message):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message

    def status(self):
        return {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


def _pointer(doc, path):
    parts = [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]
    for p in parts[:-1]:
        doc = doc[int(p)] if isinstance(doc, list) else doc[p]
    return doc, parts[-1]


def json_patch(doc, ops):
    doc = copy.deepcopy(doc)
    for op in ops:
        parent, key = _pointer(doc, op["path"])
        if isinstance(parent, list):
            idx = len(parent) if key == "-" else int(key)
            if op["op"] == "add":
                parent.insert(idx, op["value"])
            elif op["op"] == "remove":
                parent.pop(idx)
            elif op["op"] == "replace":
                parent[idx] = op["value"]
            elif op["op"] == "test" and parent[idx] != op["value"]:
                raise ApiError(422, "Invalid", "test operation failed")
        else:
            if op["op"] in ("add", "replace"):
                parent[key] = op["value"]
            elif op["op"] == "remove":
                del parent[key]
            elif op["op"] == "test" and parent.get(key) != op["value"]:
                raise ApiError(422, "Invalid", "test operation failed")
    return doc


def selector_matches(selector, obj):
    labels = obj.get("metadata", {}).get("labels") or {}
    for term in filter(None, (selector or "").split(",")):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k) == v:
                return False
        elif "=" in term:
            k, v = term.split("=", 1)
            if labels.get(k.rstrip("=")) != v:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def field_matches(selector, obj):
    """fieldSelector terms "a.b=v" / "a.b==v" / "a.b!=v" over dotted paths (missing = "")."""
    for term in filter(None, (selector or "").split(",")):
        neg = "!=" in term
        k, v = term.split("!=" if neg else "=", 1)
        cur = obj
        for part in k.split("."):
            cur = cur.get(part) if isinstance(cur, dict) else None
        if ((cur or "") == v.lstrip("=")) == neg:
            return False
    return True


def _plain(schema):
    if isinstance(schema, dict):
        return {k: _plain(v) for k, v in schema.items() if not k.startswith("x-kubernetes")}
    if isinstance(schema, list):
        return [_plain(x) for x in schema]
    return schema


def _unknown(schema, doc, path=""):
    """Fields the structural schema does not declare: the real API server prunes them silently,
    which would make a controller rewrite its status forever; here they are an error."""
    out = []
    if path == ".metadata" or schema.get("x-kubernetes-preserve-unknown-fields"):
        return out
    if isinstance(doc, dict) and "properties" in schema:
        for k, v in doc.items():
            if k in schema["properties"]:
                out += _unknown(schema["properties"][k], v, f"{path}.{k}")
            else:
                out.append(f"{path}.{k}")
    elif isinstance(doc, list) and "items" in schema:
        for i, v in enumerate(doc):
            out += _unknown(schema["items"], v, f"{path}[{i}]")
    return out


def load_crd_schemas(crd_dir):
    """plural → openAPIV3Schema from deploy/crds."""
    schemas = {}
    for f in sorted(crd_dir.glob("*.reaper.io.yaml")):
        crd = yaml.safe_load(f.read_text())
        schemas[crd["spec"]["names"]["plural"]] = crd["spec"]["versions"][0]["schema"][
            "openAPIV3Schema"]
    return schemas


class Fault:
    """Requests matched by method/plural/token/watch (None: any) get action: "status" (HTTP
    code), "hang" (held until cleared, then closed unanswered), "stall" (held until cleared,
    then served) or "close" (closed unanswered)."""

    def __init__(self, action, code=503, methods=None, plurals=None, token=None, watch=None):
        assert action in ("status", "hang", "stall", "close"), action
        self.action, self.code, self.token, self.watch = action, code, token, watch
        self.methods = set(methods) if methods else None
        self.plurals = set(plurals) if plurals else None
        self.active, self.served = True, 0

    def matches(self, method, plural, token, watch):
        return (self.active and (self.methods is None or method in self.methods) and
                (self.plurals is None or plural in self.plurals) and
                (self.token is None or token == self.token) and
                (self.watch is None or watch == self.watch))


class Store:
    """Objects, history and watchers; every method takes the condition lock."""

    def __init__(self, schemas=None):
        self.schemas = schemas or {}
        self.cond = threading.Condition()
        self.rv = 0
        self.compacted = 0
        self.objects = {p: {} for p in RESOURCES}
        self.history = []  # (rv, plural, type, obj)
        self.watch_epoch = 0
        self.lists = {p: 0 for p in RESOURCES}
        self.watches = {p: 0 for p in RESOURCES}
        self.requests = []  # (method, plural, ns, name, sub, bearer token)
        self.inject_conflicts = {}  # plural → number of next main-resource PUTs to reject (409)
        self.conflicts_served = 0
        self.faults = []
        self.arrivals = []  # (time.monotonic(), method, plural, name, sub, token, watch)

    def inject(self, action, **match):
        """Start a fault (see Fault) until clear_faults(); returns it (its .served counts)."""
        f = Fault(action, **match)
        with self.cond:
            self.faults.append(f)
        return f

    def clear_faults(self):
        """End every fault; hung requests are released (their connections close)."""
        with self.cond:
            for f in self.faults:
                f.active = False
            self.faults = []
            self.cond.notify_all()

    def fault_for(self, method, plural, token, watch):
        with self.cond:
            f = next((f for f in self.faults if f.matches(method, plural, token, watch)), None)
            if f:
                f.served += 1
            return f

    def hold(self, fault):
        with self.cond:
            while fault.active:
                self.cond.wait(0.2)

    def requests_between(self, token, start, end=None, writes_only=False):
        """The requests of token (bearer) that arrived in [start, end) (time.monotonic())."""
        return [a for a in list(self.arrivals) if a[5] == token and a[0] >= start and
                (end is None or a[0] < end) and
                (not writes_only or a[1] in ("POST", "PUT", "PATCH", "DELETE"))]

    def _emit(self, plural, etype, obj):
        self.history.append((self.rv, plural, etype, copy.deepcopy(obj)))
        self.cond.notify_all()

    def _bump(self, obj):
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)

    def get(self, plural, ns, name):
        with self.cond:
            obj = self.objects[plural].get((ns, name))
            if obj is None:
                raise ApiError(404, "NotFound", f'{plural} "{name}" not found')
            return copy.deepcopy(obj)

    def list(self, plural, ns=None, selector=None, fields=None):
        with self.cond:
            items = [copy.deepcopy(o) for (ons, _), o in sorted(self.objects[plural].items())
                     if (ns is None or ons == ns) and selector_matches(selector, o)
                     and field_matches(fields, o)]
            return items, str(self.rv)

    def create(self, plural, ns, obj):
        gv, kind, namespaced, has_status = RESOURCES[plural]
        obj = copy.deepcopy(obj)
        md = obj.setdefault("metadata", {})
        if not namespaced:
            ns = ""
        if "generateName" in md and "name" not in md:
            md["name"] = md["generateName"] + uuid.uuid4().hex[:5]
        name = md.get("name")
        if not name:
            raise ApiError(422, "Invalid", "metadata.name: Required value")
        with self.cond:
            if (ns, name) in self.objects[plural]:
                raise ApiError(409, "AlreadyExists", f'{plural} "{name}" already exists')
            obj["apiVersion"], obj["kind"] = gv, kind
            if namespaced:
                md["namespace"] = ns
            md.update(uid=str(uuid.uuid4()), creationTimestamp=now(), generation=1)
            md.pop("deletionTimestamp", None)
            if has_status:
                obj["status"] = {"phase": "Pending"} if plural == "pods" else {}
            self._validate(plural, obj)
            self._bump(obj)
            self.objects[plural][(ns, name)] = obj
            self._emit(plural, "ADDED", obj)
            created = copy.deepcopy(obj)
            if self._orphaned(obj):  # the GC controller removes dependents of a vanished owner
                self.delete(plural, ns, name)
            return created

    def _orphaned(self, obj):
        uids = {o["metadata"]["uid"] for objs in self.objects.values() for o in objs.values()}
        refs = obj["metadata"].get("ownerReferences") or []
        return any(r.get("uid") not in uids for r in refs)

    def _check_rv(self, cur, new):
        rv = new.get("metadata", {}).get("resourceVersion")
        if rv and rv != cur["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", "Operation cannot be fulfilled: the object has been "
                           "modified; please apply your changes to the latest version and try again")

    def _validate(self, plural, obj):
        schema = self.schemas.get(plural)
        if schema is None or jsonschema is None:
            return
        errors = [f"{'.'.join(map(str, e.path))}: {e.message}"
                  for e in jsonschema.Draft7Validator(_plain(schema)).iter_errors(obj)]
        errors += [f"{u}: field not declared in the CRD schema" for u in _unknown(schema, obj)]
        if errors:
            raise ApiError(422, "Invalid", f"{plural} is invalid: " + "; ".join(errors))

    def _store_update(self, plural, key, cur, new):
        """Write new over cur: schema, generation, finalizer-driven deletion."""
        if new == cur:
            return copy.deepcopy(cur)
        self._validate(plural, new)
        md = new["metadata"]
        if {k: v for k, v in new.items() if k not in ("metadata", "status")} != \
           {k: v for k, v in cur.items() if k not in ("metadata", "status")}:
            md["generation"] = cur["metadata"].get("generation", 1) + 1
        self._bump(new)
        if md.get("deletionTimestamp") and not md.get("finalizers"):
            del self.objects[plural][key]
            self._emit(plural, "DELETED", new)
            self._gc(md["uid"])
        else:
            self.objects[plural][key] = new
            self._emit(plural, "MODIFIED", new)
        return copy.deepcopy(new)

    def update(self, plural, ns, name, new, sub=None):
        _, _, namespaced, has_status = RESOURCES[plural]
        key = (ns if namespaced else "", name)
        with self.cond:
            cur = self.objects[plural].get(key)
            if cur is None:
                raise ApiError(404, "NotFound", f'{plural} "{name}" not found')
            self._check_rv(cur, new)
            if sub is None and self.inject_conflicts.get(plural, 0) > 0:
                self.inject_conflicts[plural] -= 1
                self.conflicts_served += 1
                raise ApiError(409, "Conflict", "injected conflict (test)")
            merged = copy.deepcopy(cur)
            if sub == "status":
                merged["status"] = copy.deepcopy(new.get("status", {}))
            else:
                for k in list(merged):
                    if k not in ("metadata", "status", "apiVersion", "kind"):
                        del merged[k]
                for k, v in new.items():
                    if k not in ("metadata", "status", "apiVersion", "kind"):
                        merged[k] = copy.deepcopy(v)
                if not has_status and "status" in new:
                    merged["status"] = copy.deepcopy(new["status"])
                for f in ("labels", "annotations", "finalizers", "ownerReferences"):
                    if f in new.get("metadata", {}):
                        merged["metadata"][f] = copy.deepcopy(new["metadata"][f])
                    else:
                        merged["metadata"].pop(f, None)
            return self._store_update(plural, key, cur, merged)

    def patch(self, plural, ns, name, ptype, patch, sub=None):
        key = (ns if RESOURCES[plural][2] else "", name)
        with self.cond:
            cur = self.objects[plural].get(key)
            if cur is None:
                raise ApiError(404, "NotFound", f'{plural} "{name}" not found')
            if ptype == "json":
                new = json_patch(cur, patch)
            else:
                self._check_rv(cur, patch)
                new = merge_patch(cur, patch)
            new["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
        return self.update(plural, ns, name, new, sub)

    def delete(self, plural, ns, name, uid=None):
        key = (ns if RESOURCES[plural][2] else "", name)
        with self.cond:
            cur = self.objects[plural].get(key)
            if cur is None:
                raise ApiError(404, "NotFound", f'{plural} "{name}" not found')
            if uid and cur["metadata"]["uid"] != uid:
                raise ApiError(409, "Conflict", "Precondition failed: UID in precondition")
            if cur["metadata"].get("finalizers"):
                if not cur["metadata"].get("deletionTimestamp"):
                    new = copy.deepcopy(cur)
                    new["metadata"]["deletionTimestamp"] = now()
                    self._bump(new)
                    self.objects[plural][key] = new
                    self._emit(plural, "MODIFIED", new)
                return copy.deepcopy(self.objects[plural][key])
            del self.objects[plural][key]
            self._bump(cur)
            self._emit(plural, "DELETED", cur)
            self._gc(cur["metadata"]["uid"])
            return cur

    def _gc(self, uid):
        """Background cascading deletion of dependents (the GC controller's job)."""
        for plural, objs in self.objects.items():
            for (ns, name), o in list(objs.items()):
                refs = o["metadata"].get("ownerReferences") or []
                if any(r.get("uid") == uid for r in refs):
                    try:
                        self.delete(plural, ns, name)
                    except ApiError:
                        pass

    def emit_raw(self, plural, line):
        """Send line (JSON text, e.g. nested deeper than Python's json can write) to plural's
        watchers as one event, as a misbehaving server would; nothing is stored."""
        with self.cond:
            self.rv += 1
            self.history.append((self.rv, plural, "RAW", line))
            self.cond.notify_all()

    def expire_and_drop(self):
        """Compact history past every watcher's position and drop all streams: 410 follows."""
        with self.cond:
            self.rv += 1
            self.compacted = self.rv
            self.watch_epoch += 1
            self.cond.notify_all()

    def drop_watches(self):
        with self.cond:
            self.watch_epoch += 1
            self.cond.notify_all()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    @property
    def store(self):
        return self.server.store

    def _parse(self):
        u = urllib.parse.urlsplit(self.path)
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(u.query).items()}
        parts = [p for p in u.path.split("/") if p]
        if parts[:1] == ["api"]:
            parts = parts[2:]
        elif parts[:1] == ["apis"]:
            parts = parts[3:]
        else:
            raise ApiError(404, "NotFound", "no such path")
        ns = None
        if len(parts) >= 2 and parts[0] == "namespaces":
            ns, parts = parts[1], parts[2:]
        if not parts or parts[0] not in RESOURCES:
            raise ApiError(404, "NotFound", f"unknown resource in {u.path}")
        plural, name = parts[0], parts[1] if len(parts) > 1 else None
        sub = parts[2] if len(parts) > 2 else None
        return plural, ns, name, sub, q

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n)) if n else None

    def _send(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method):
        try:
            plural, ns, name, sub, q = self._parse()
            body = self._body() if method in ("POST", "PUT", "PATCH", "DELETE") else None
            auth = self.headers.get("Authorization", "")
            token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
            self.store.requests.append((method, plural, ns, name, sub, token))
            watch = method == "GET" and name is None and q.get("watch") in ("1", "true")
            self.store.arrivals.append((time.monotonic(), method, plural, name, sub, token,
                                        watch))
            fault = self.store.fault_for(method, plural, token, watch)
            if fault and fault.action == "stall":
                self.store.hold(fault)
            elif fault:
                return self._fault(fault)
            if watch:
                return self._watch(plural, ns, q)
            self._send(*self._dispatch(method, plural, ns, name, sub, q, body))
        except ApiError as e:
            self._send(e.code, e.status())
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _fault(self, fault):
        if fault.action == "status":
            reason = {500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"}.get(
                fault.code, "InternalError")
            raise ApiError(fault.code, reason, f"injected fault: HTTP {fault.code} (test)")
        if fault.action == "hang":
            self.store.hold(fault)
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _dispatch(self, method, plural, ns, name, sub, q, body):
        st = self.store
        if method == "GET" and name is None:
            items, rv = st.list(plural, ns, q.get("labelSelector"), q.get("fieldSelector"))
            with st.cond:
                st.lists[plural] += 1
            kind = RESOURCES[plural][1] + "List"
            return 200, {"kind": kind, "apiVersion": RESOURCES[plural][0],
                         "metadata": {"resourceVersion": rv}, "items": items}
        if method == "GET":
            return 200, st.get(plural, ns or "", name)
        if method == "POST":
            return 201, st.create(plural, ns or "", body)
        if method == "PUT":
            return 200, st.update(plural, ns or "", name, body, sub)
        if method == "PATCH":
            ctype = self.headers.get("Content-Type", "")
            ptype = "json" if "json-patch" in ctype else "merge"
            return 200, st.patch(plural, ns or "", name, ptype, body, sub)
        if method == "DELETE":
            uid = ((body or {}).get("preconditions") or {}).get("uid")
            return 200, st.delete(plural, ns or "", name, uid)
        raise ApiError(405, "MethodNotAllowed", method)

    def _chunk(self, obj):
        self._chunk_text(json.dumps(obj))

    def _chunk_text(self, text):
        data = (text + "\n").encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _watch(self, plural, ns, q):
        st = self.store
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        deadline = time.monotonic() + int(q.get("timeoutSeconds", "300"))
        sel, fields = q.get("labelSelector"), q.get("fieldSelector")
        bookmarks = q.get("allowWatchBookmarks") == "true"
        with st.cond:
            st.watches[plural] += 1
            epoch = st.watch_epoch
            rv = q.get("resourceVersion")
            if rv and rv != "0" and int(rv) < st.compacted:
                self._chunk({"type": "ERROR", "object": {
                    "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 410,
                    "reason": "Expired", "message": f"too old resource version: {rv}"}})
                self.wfile.write(b"0\r\n\r\n")
                return
            if not rv or rv == "0":
                pending = [("ADDED", o) for (ons, _), o in self.store.objects[plural].items()
                           if (ns is None or ons == ns)]
                pos = len(st.history)
            else:
                pending = []
                pos = next((i for i, h in enumerate(st.history) if h[0] > int(rv)),
                           len(st.history))
        last_bookmark = time.monotonic()
        while True:
            with st.cond:
                for h in st.history[pos:]:
                    if h[1] == plural and (ns is None or h[2] == "RAW" or
                                           h[3]["metadata"].get("namespace") == ns):
                        pending.append((h[2], h[3]))
                pos = len(st.history)
                if st.watch_epoch != epoch:  # the test drops the connection
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                current = st.rv
            for etype, obj in pending:
                if etype == "RAW":
                    self._chunk_text(obj)
                elif selector_matches(sel, obj) and field_matches(fields, obj):
                    self._chunk({"type": etype, "object": obj})
            pending = []
            if time.monotonic() >= deadline:
                self.wfile.write(b"0\r\n\r\n")
                return
            if bookmarks and time.monotonic() - last_bookmark >= self.server.bookmark_interval:
                gv, kind = RESOURCES[plural][:2]
                self._chunk({"type": "BOOKMARK", "object": {
                    "kind": kind, "apiVersion": gv,
                    "metadata": {"resourceVersion": str(current)}}})
                last_bookmark = time.monotonic()
            with st.cond:
                if len(st.history) == pos and st.watch_epoch == epoch:
                    st.cond.wait(0.2)

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_PATCH(self):
        self._handle("PATCH")

    def do_DELETE(self):
        self._handle("DELETE")


class FakeApiServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, bookmark_interval=1.0, tls=None, crd_dir=None):
        """tls: optional ssl.SSLContext (server side), e.g. requiring client certificates.
        crd_dir: deploy/crds, to validate custom resources against their schemas."""
        super().__init__(("127.0.0.1", 0), Handler)
        self.store = Store(load_crd_schemas(crd_dir) if crd_dir else None)
        self.bookmark_interval = bookmark_interval
        self.tls = tls
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    def get_request(self):
        sock, addr = super().get_request()
        if self.tls:
            sock = self.tls.wrap_socket(sock, server_side=True)
        return sock, addr

    @property
    def url(self):
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.server_address[1]}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.store.clear_faults()
        self.store.drop_watches()
        self.shutdown()
        self.server_close()

    def kubeconfig(self, path, cluster_extra="", user="    token: fake-token\n"):
        path.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: fake\n"
            f"clusters:\n- name: fake\n  cluster:\n    server: {self.url}\n{cluster_extra}"
            "contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: tester\n"
            "    namespace: default\n"
            f"users:\n- name: tester\n  user:\n{user}")
        return path
