"""The flagship example's seed contract, checked with a second, independent client: the official
Python `python-socketio` client. Run by tests/js/realtime.test.mjs, which starts the server and
passes URL, TRANSPORT and TOKENS (JSON) in the environment.

`python realtime_client.py contract` checks the events and exits 0, or fails with the first
mismatch; `python realtime_client.py shutdown` connects, prints `ready`, and prints the
`server:shutdown` payload as JSON once it arrives and the server has disconnected it.
"""

import json
import os
import queue
import sys

import socketio

WAIT = 5.0
URL = os.environ["URL"]
TRANSPORT = os.environ.get("TRANSPORT", "websocket")
TOKENS = json.loads(os.environ["TOKENS"])


class Client:
    """One python-socketio client whose received events can be awaited, with a bound."""

    def __init__(self, token=None, namespaces=("/",)):
        self.sio = socketio.Client(reconnection=False)
        self.queues = {}
        self.refusals = queue.Queue()
        for ns in namespaces:
            self.sio.on("connect_error", lambda data, ns=ns: self.refusals.put(data), namespace=ns)
        self.namespaces = list(namespaces)
        self.token = token

    def watch(self, event, ns="/"):
        q = self.queues.setdefault((ns, event), queue.Queue())
        self.sio.on(event, lambda *args: q.put(list(args)), namespace=ns)
        return self

    def connect(self):
        auth = {"token": self.token} if self.token is not None else None
        self.sio.connect(
            URL,
            namespaces=self.namespaces,
            auth=auth,
            transports=[TRANSPORT],
            wait_timeout=WAIT,
        )
        return self

    def refusal(self):
        """The connect_error message of a refused connection."""
        try:
            self.connect()
        except socketio.exceptions.ConnectionError:
            pass
        else:
            self.sio.disconnect()
            fail("connection was admitted")
        data = self.refusals.get(timeout=WAIT)
        return data.get("message") if isinstance(data, dict) else data

    def next(self, event, ns="/"):
        try:
            return self.queues[(ns, event)].get(timeout=WAIT)
        except queue.Empty:
            fail(f"no '{event}' on {ns} within {WAIT} s")

    def close(self):
        self.sio.disconnect()


def fail(message):
    print(f"[{TRANSPORT}] {message}", file=sys.stderr)
    sys.exit(1)


def same(actual, expected, what):
    if actual != expected or type(actual) is not type(expected):
        fail(f"{what}: expected {expected!r}, got {actual!r}")


def contract():
    same(Client().refusal(), "Authentication required", "refusal without token")
    same(Client("not.a.jwt").refusal(), "Invalid token", "refusal of a bad token")
    same(Client(TOKENS["user"], ["/admin"]).refusal(), "Admin access required", "/admin refusal")

    alice = Client(TOKENS["alice"]).watch("error").watch("channel:joined").watch("user:joined").connect()
    bob = Client(TOKENS["bob"]).watch("channel:joined").connect()
    try:
        rooms = alice.sio.call("get-rooms", None, timeout=WAIT)
        same("user-alice" in rooms, True, "get-rooms has user-alice")
        alice.sio.emit("join-channel", {"channelId": "nope"})
        same(alice.next("error"), [{"message": "Channel not found"}], "unknown channel")
        alice.sio.emit("join-channel", {"channelId": "vip", "password": "x"})
        same(alice.next("error"), [{"message": "Invalid password"}], "wrong password")
        alice.sio.emit("join-channel", {"channelId": "vip", "password": "vip-pass"})
        same(alice.next("channel:joined"), [{"channelId": "vip", "members": 1}], "channel:joined")
        bob.sio.emit("join-channel", {"channelId": "vip", "password": "vip-pass"})
        same(alice.next("user:joined"), [{"userId": 123, "username": "bob"}], "user:joined")
        same(bob.next("channel:joined"), [{"channelId": "vip", "members": 2}], "second channel:joined")
    finally:
        alice.close()
        bob.close()

    chat = [Client(TOKENS[u], ["/chat"]).watch("message", "/chat").connect() for u in ("alice", "carol")]
    root = Client(TOKENS["carol"]).watch("admin:announcement").connect()
    admin = Client(TOKENS["admin"], ["/admin"]).connect()
    try:
        for data in [{"text": "hi"}, "plain", 7, [1, "two"], {"blob": b"\x00\x01\xff", "name": "f"}]:
            chat[0].sio.emit("message", data, namespace="/chat")
            for c in chat:
                same(c.next("message", "/chat"), [data], "/chat message")
        for data in ["maintenance at 6", {"level": "info", "raw": b"\x09\x08"}]:
            admin.sio.emit("broadcast", data, namespace="/admin")
            same(root.next("admin:announcement"), [data], "admin:announcement")

        victim = Client(TOKENS["victim"]).watch("kicked").watch("disconnect").connect()
        reply = admin.sio.call(
            "kick", {"userId": 123456, "reason": "Violation of terms"}, namespace="/admin", timeout=WAIT
        )
        same(reply, {"kicked": True}, "kick ack")
        same(victim.next("kicked"), [{"reason": "Violation of terms"}], "kicked")
        victim.next("disconnect")
    finally:
        for c in chat + [root, admin]:
            c.close()

    flood = Client(TOKENS["flood"]).watch("error").connect()
    try:
        # 100 a minute with a burst of 100: the last 12 of 112 events are refused unless sending them
        # takes over 7 s. No more than that: python-engineio drops a polling connection whose poll
        # brings more than 16 packets (`Payload.max_decode_packets`), and each refusal is one packet.
        for i in range(112):
            flood.sio.emit("echo", i)
        same(flood.next("error"), [{"message": "Too many requests. Please slow down."}], "rate limit")
    finally:
        flood.close()
    print(f"[{TRANSPORT}] contract ok")


def shutdown():
    client = Client(TOKENS["user"]).watch("server:shutdown").watch("disconnect").connect()
    print("ready", flush=True)
    notice = client.next("server:shutdown")
    client.next("disconnect")
    print(json.dumps(notice), flush=True)


if __name__ == "__main__":
    {"contract": contract, "shutdown": shutdown}[sys.argv[1]]()
