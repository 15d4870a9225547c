#!/usr/bin/env python3
"""A stand-in for the Hugging Face hub's file API, on 127.0.0.1, for `gemma4 pull`'s tests.

Serves the repositories under --root (ROOT/org/name/<files>) the way huggingface.co does:
  GET /api/models/{org}/{name}/revision/{rev}[?blobs=true]
      {"id", "sha": commit, "siblings": [{"rfilename", "size", "blobId", "lfs": {"sha256", "size"}}]}
      (*.gguf, *.safetensors and *.bin are LFS files; others are plain git files with only a blobId)
  GET|HEAD /{org}/{name}/resolve/{rev}/{path}
      LFS files: 302 to /_cdn/... with X-Linked-Etag (the sha256), X-Linked-Size and X-Repo-Commit, as the hub
      redirects to its CDN; plain files: 200 with ETag = the git blob id. Range requests get 206.
Failure modes for the tests:
  --gated TOKEN       every request needs "Authorization: Bearer TOKEN": none -> 401, "hf_invalid" -> 401
                      (invalid credentials), another token -> 403, each with X-Error-Code/X-Error-Message
  --interrupt PATH    the first full GET of PATH sends half the bytes and drops the connection
  --bad-sha PATH      the listing and X-Linked-Etag give PATH a sha256 that is not its content's
  --bad-etag PATH     only X-Linked-Etag does (the listing and the redirect disagree)
Every request is appended to --log as "METHOD PATH RANGE" (RANGE "-" when absent). The chosen port is
written to --port-file once listening.
"""
import argparse
import hashlib
import json
import os
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LFS_SUFFIXES = (".gguf", ".safetensors", ".bin")


def file_meta(path):
    data = open(path, "rb").read()
    return {
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "blob": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest(),
    }


class Hub:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.interrupted = set()

    def repo_dir(self, org, name):
        d = os.path.join(self.args.root, org, name)
        return d if os.path.isdir(d) else None

    def commit(self, org, name):
        return hashlib.sha1(("%s/%s" % (org, name)).encode()).hexdigest()

    def files(self, d):
        out = []
        for base, _, names in os.walk(d):
            for n in names:
                out.append(os.path.relpath(os.path.join(base, n), d))
        return sorted(out)

    def sha256(self, rel, meta):
        """The checksum the hub claims for a file (one that is not its content's under --bad-sha)."""
        if self.args.bad_sha == rel:
            return hashlib.sha256(b"something else").hexdigest()
        return meta["sha256"]

    def log(self, line):
        with self.lock, open(self.args.log, "a") as f:
            f.write(line + "\n")


def make_handler(hub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def send_error_json(self, status, code, message):
            body = json.dumps({"error": message}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if code:
                self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", message)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def auth_ok(self, repo):
            token = hub.args.gated
            if not token:
                return True
            got = self.headers.get("Authorization", "")
            if not got:
                self.send_error_json(401, "GatedRepo", "Access to model %s is restricted. You must have access to it "
                                     "and be authenticated to access it. Please log in." % repo)
                return False
            if got == "Bearer hf_invalid":
                self.send_error_json(401, None, "Invalid credentials in Authorization header")
                return False
            if got != "Bearer " + token:
                self.send_error_json(403, "GatedRepo", "Access to model %s is restricted and you are not in the "
                                     "authorized list. Visit https://huggingface.co/%s to ask for access." % (repo, repo))
                return False
            return True

        def do_HEAD(self):
            self.handle_any()

        def do_GET(self):
            self.handle_any()

        def handle_any(self):
            url = urllib.parse.urlparse(self.path)
            path = urllib.parse.unquote(url.path)
            hub.log("%s %s %s" % (self.command, path, self.headers.get("Range", "-")))
            parts = path.strip("/").split("/")
            if len(parts) >= 5 and parts[:2] == ["api", "models"] and parts[4] == "revision":
                return self.revision(parts[2], parts[3])
            if len(parts) >= 5 and parts[2] == "resolve":
                return self.resolve(parts[0], parts[1], "/".join(parts[4:]))
            if len(parts) >= 4 and parts[0] == "_cdn":
                return self.send_file(parts[1], parts[2], "/".join(parts[3:]))
            self.send_error_json(404, None, "Not found")

        def revision(self, org, name):
            repo = "%s/%s" % (org, name)
            d = hub.repo_dir(org, name)
            if d is None:
                return self.send_error_json(401 if not self.headers.get("Authorization") else 404, "RepoNotFound",
                                            "Repository not found")
            if not self.auth_ok(repo):
                return
            siblings = []
            for rel in hub.files(d):
                m = file_meta(os.path.join(d, rel))
                s = {"rfilename": rel, "size": m["size"], "blobId": m["blob"]}
                if rel.endswith(LFS_SUFFIXES):
                    s["lfs"] = {"sha256": hub.sha256(rel, m), "size": m["size"], "pointerSize": 134}
                siblings.append(s)
            body = json.dumps({"id": repo, "modelId": repo, "sha": hub.commit(org, name), "private": False,
                               "gated": "manual" if hub.args.gated else False, "siblings": siblings}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def resolve(self, org, name, rel):
            d = hub.repo_dir(org, name)
            if d is None:
                return self.send_error_json(404, "RepoNotFound", "Repository not found")
            if not self.auth_ok("%s/%s" % (org, name)):
                return
            full = os.path.join(d, rel)
            if not os.path.isfile(full):
                return self.send_error_json(404, "EntryNotFound", "Entry not found")
            m = file_meta(full)
            if rel.endswith(LFS_SUFFIXES):  # the hub answers with a redirect to its CDN
                self.send_response(302)
                self.send_header("Location", "/_cdn/%s/%s/%s" % (org, name, urllib.parse.quote(rel)))
                etag = hub.sha256(rel, m)
                if hub.args.bad_etag == rel:
                    etag = hashlib.sha256(b"another file").hexdigest()
                self.send_header("X-Linked-Etag", '"%s"' % etag)
                self.send_header("X-Linked-Size", str(m["size"]))
                self.send_header("X-Repo-Commit", hub.commit(org, name))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_file(org, name, rel, etag=m["blob"])

        def send_file(self, org, name, rel, etag=None):
            d = hub.repo_dir(org, name)
            full = os.path.join(d, rel) if d else None
            if not full or not os.path.isfile(full):
                return self.send_error_json(404, "EntryNotFound", "Entry not found")
            data = open(full, "rb").read()
            start = 0
            rng = self.headers.get("Range")
            if rng and rng.startswith("bytes=") and rng.endswith("-"):
                start = int(rng[6:-1])
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", "bytes */%d" % len(data))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(data) - start))
            self.send_header("Accept-Ranges", "bytes")
            if etag:
                self.send_header("ETag", '"%s"' % etag)
            self.end_headers()
            if self.command == "HEAD":
                return
            body = data[start:]
            key = (org, name, rel)
            if hub.args.interrupt == rel and start == 0 and key not in hub.interrupted:
                hub.interrupted.add(key)
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.wfile.write(body)

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--gated")
    ap.add_argument("--interrupt")
    ap.add_argument("--bad-sha")
    ap.add_argument("--bad-etag")
    args = ap.parse_args()
    hub = Hub(args)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(hub))
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
