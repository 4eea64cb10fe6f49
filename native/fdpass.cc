// File descriptor passing over AF_UNIX stream sockets (SCM_RIGHTS), and a readiness poller on the
// caller's own libuv loop.
//
// Node cannot do either: net.Socket reads its fd with read(2), which throws away the ancillary data (and
// with it the descriptors in flight), and Node's IPC channel only carries sockets and servers. So the
// socket that carries descriptors is never given to libuv as a stream: it is polled with a uv_poll_t on
// the loop of the calling environment (main thread or worker), and every read and write is one
// non-blocking recvmsg/sendmsg made here when the poller says the socket is ready. No thread ever blocks.
//
// As everywhere in the addon, each function returns its result or -errno; the poller is an opaque
// external object, never an address.
// @see https://man7.org/linux/man-pages/man7/unix.7.html (SCM_RIGHTS)
// @see https://docs.libuv.org/en/v1.x/poll.html
#include <node_api.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "args.h"
#include "exports.h"

namespace memseal {
namespace {

// The most descriptors one recvmsg accepts (the caller asks for fewer: room for one more than its limit).
// A peer that sends more has them discarded by the kernel (MSG_CTRUNC): never installed here, never leaked.
// The kernel's own limit for one SCM_RIGHTS message is SCM_MAX_FD (253, include/net/scm.h).
constexpr size_t kMaxRecvFds = 253;
// The kernel's own limit for one SCM_RIGHTS message (SCM_MAX_FD, include/net/scm.h).
constexpr size_t kMaxSendFds = 253;

// Bytes of a Uint8Array / Buffer argument.
bool ArgBytes(const Napi::CallbackInfo& info, size_t i, uint8_t** data, size_t* length) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    return Fail(info, i, "a Uint8Array");
  }
  Napi::Uint8Array a = info[i].As<Napi::Uint8Array>();
  *data = a.Data();
  *length = a.ByteLength();
  return true;
}

// A socket address from a string (a filesystem path) or a Buffer (raw bytes: a leading NUL names an
// abstract socket). -ENAMETOOLONG when it does not fit sun_path.
long SocketAddress(const Napi::CallbackInfo& info, size_t i, sockaddr_un* addr, socklen_t* len) {
  std::memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  std::string bytes;
  if (info[i].IsString()) {
    bytes = info[i].As<Napi::String>().Utf8Value();
    if (bytes.find('\0') != std::string::npos) return -EINVAL;
    if (bytes.size() + 1 > sizeof(addr->sun_path)) return -ENAMETOOLONG;
  } else if (info[i].IsBuffer()) {
    Napi::Buffer<char> b = info[i].As<Napi::Buffer<char>>();
    bytes.assign(b.Data(), b.Length());
    if (bytes.size() > sizeof(addr->sun_path)) return -ENAMETOOLONG;
  } else {
    Fail(info, i, "a string or Buffer");
    return -EINVAL;
  }
  if (bytes.empty()) return -EINVAL;
  std::memcpy(addr->sun_path, bytes.data(), bytes.size());
  *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + bytes.size() + (bytes[0] == '\0' ? 0 : 1));
  return 0;
}

// An array of two numbers, or nullptr (the environment is going away).
napi_value Pair(napi_env env, double a, double b) {
  napi_value out, x, y;
  if (napi_create_array_with_length(env, 2, &out) != napi_ok || napi_create_double(env, a, &x) != napi_ok ||
      napi_create_double(env, b, &y) != napi_ok || napi_set_element(env, out, 0, x) != napi_ok ||
      napi_set_element(env, out, 1, y) != napi_ok) {
    return nullptr;
  }
  return out;
}

// socketpair() -> [fd, fd] | -errno. AF_UNIX, SOCK_STREAM, close-on-exec; left in blocking mode because
// one end may become a child's stdio slot (the file status flags are shared with it); every call made
// here passes MSG_DONTWAIT instead.
Napi::Value Socketpair(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return Result(env, -errno);
  napi_value out = Pair(env, sv[0], sv[1]);
  if (out == nullptr) {
    close(sv[0]);
    close(sv[1]);
    return env.Undefined();
  }
  return Napi::Value(env, out);
}

// A non-blocking, close-on-exec AF_UNIX stream socket: fd or -errno.
long StreamSocket() {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  return fd < 0 ? -errno : fd;
}

// Closes fd after a failed call, keeping the call's errno: -errno.
long CloseAfterFailure(int fd) {
  int e = errno;
  close(fd);
  return -e;
}

// listen(path, backlog) -> fd | -errno: a non-blocking, close-on-exec AF_UNIX stream socket bound to path.
Napi::Value Listen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  sockaddr_un addr;
  socklen_t len = 0;
  long r = SocketAddress(info, 0, &addr, &len);
  if (env.IsExceptionPending()) return env.Undefined();
  if (r != 0) return Result(env, r);
  int backlog;
  if (!ArgInt(info, 1, &backlog)) return env.Undefined();
  long fd = StreamSocket();
  if (fd < 0) return Result(env, fd);
  int s = static_cast<int>(fd);
  if (bind(s, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(s, backlog) != 0) {
    return Result(env, CloseAfterFailure(s));
  }
  return Result(env, fd);
}

// accept(fd) -> fd | -errno (EAGAIN when no connection is pending). The new socket is close-on-exec.
Napi::Value Accept(const Napi::CallbackInfo& info) {
  int fd;
  if (!ArgInt(info, 0, &fd)) return info.Env().Undefined();
  int c = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  return Result(info.Env(), c < 0 ? -errno : c);
}

// connect(path) -> fd | -errno. An AF_UNIX stream connect completes at once or fails; with a full
// backlog a non-blocking one fails with EAGAIN instead of waiting (unix(7)), and the caller retries.
Napi::Value Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  sockaddr_un addr;
  socklen_t len = 0;
  long r = SocketAddress(info, 0, &addr, &len);
  if (env.IsExceptionPending()) return env.Undefined();
  if (r != 0) return Result(env, r);
  long fd = StreamSocket();
  if (fd < 0) return Result(env, fd);
  int s = static_cast<int>(fd);
  if (connect(s, reinterpret_cast<sockaddr*>(&addr), len) != 0) return Result(env, CloseAfterFailure(s));
  return Result(env, fd);
}

// socketInfo(fd) -> [domain, type] | -errno (ENOTSOCK for anything that is not a socket).
Napi::Value SocketInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgInt(info, 0, &fd)) return env.Undefined();
  int domain = 0, type = 0;
  socklen_t len = sizeof(int);
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) return Result(env, -errno);
  len = sizeof(int);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return Result(env, -errno);
  napi_value out = Pair(env, domain, type);
  return out == nullptr ? env.Undefined() : Napi::Value(env, out);
}

// sendmsg(fd, bytes, fds) -> bytes sent | -errno. One non-blocking sendmsg; the descriptors travel with
// the first byte. A short count means the rest must be sent later without them. MSG_NOSIGNAL: a closed
// peer is EPIPE, not a SIGPIPE that would kill the process.
Napi::Value Sendmsg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  uint8_t* data;
  size_t length;
  if (!ArgInt(info, 0, &fd) || !ArgBytes(info, 1, &data, &length)) return env.Undefined();
  if (!info[2].IsArray()) {
    Fail(info, 2, "an array of file descriptors");
    return env.Undefined();
  }
  Napi::Array list = info[2].As<Napi::Array>();
  if (list.Length() > kMaxSendFds) return Result(env, -EINVAL);
  std::vector<int> fds(list.Length());
  for (uint32_t k = 0; k < list.Length(); k++) {
    Napi::Value v = list.Get(k);
    if (!v.IsNumber()) {
      Fail(info, 2, "an array of file descriptors");
      return env.Undefined();
    }
    fds[k] = v.As<Napi::Number>().Int32Value();
  }
  if (length == 0) return Result(env, fds.empty() ? 0 : -EINVAL);  // a stream socket drops fds without data
  iovec iov = {data, length};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control(fds.empty() ? 0 : CMSG_SPACE(sizeof(int) * fds.size()), 0);
  if (!fds.empty()) {
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(cmsg), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  do {
    n = sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return Result(env, n < 0 ? -errno : n);
}

// ---- the poller ---------------------------------------------------------------------------------------

// One uv_poll_t on the loop of the environment that created it. It owns its socket: the fd is closed
// only in the close callback, after libuv has stopped watching it (closing a polled fd is undefined,
// docs.libuv.org poll.html). Two owners keep it alive, the open handle and the JavaScript external;
// whichever lets go last frees it.
struct Poll {
  uv_poll_t handle;
  napi_env env = nullptr;
  napi_ref callback = nullptr;
  napi_async_context context = nullptr;
  napi_async_cleanup_hook_handle hook = nullptr;
  int fd = -1;
  bool closing = false;
  int owners = 2;
  // Descriptors received and not yet handed to the caller (pollRelease) or closed (pollDiscard): closed
  // with the poller, so a channel closed or a worker terminated mid-message leaks none of them.
  std::vector<int> held;
};

// Every poller not yet freed: an External made by someone else (a raw region) is never taken for one.
struct Pollers {
  std::mutex mutex;
  std::unordered_set<const void*> live;
};
Pollers& pollers() {
  static Pollers* p = new Pollers();
  return *p;
}

Poll* PollOfValue(Napi::Value value) {
  if (!value.IsExternal()) return nullptr;
  void* data = value.As<Napi::External<void>>().Data();
  Pollers& ps = pollers();
  std::lock_guard<std::mutex> lock(ps.mutex);
  return ps.live.count(data) ? static_cast<Poll*>(data) : nullptr;
}

void CloseHeld(Poll* p) {
  for (int fd : p->held) close(fd);
  p->held.clear();
}

void Release(Poll* p) {
  if (--p->owners > 0) return;
  {
    Pollers& ps = pollers();
    std::lock_guard<std::mutex> lock(ps.mutex);
    ps.live.erase(p);
  }
  delete p;
}

void OnClosed(uv_handle_t* handle) {
  Poll* p = static_cast<Poll*>(handle->data);
  if (p->fd >= 0) close(p->fd);
  p->fd = -1;
  if (p->callback != nullptr) napi_delete_reference(p->env, p->callback);
  if (p->context != nullptr) napi_async_destroy(p->env, p->context);
  p->callback = nullptr;
  p->context = nullptr;
  if (p->hook != nullptr) napi_remove_async_cleanup_hook(p->hook);
  p->hook = nullptr;
  Release(p);
}

void StartClose(Poll* p) {
  if (p->closing) return;
  p->closing = true;
  CloseHeld(p);  // not polled: they can go at once (the socket must wait for libuv's close callback)
  uv_poll_stop(&p->handle);
  uv_close(reinterpret_cast<uv_handle_t*>(&p->handle), OnClosed);
}

// The environment is going away (a worker exiting) with the poller still open: close it on its loop.
void OnTeardown(napi_async_cleanup_hook_handle, void* arg) {
  StartClose(static_cast<Poll*>(arg));
}

// The JavaScript side dropped its handle without closing it: close it too, it can no longer be used.
void OnFinalize(napi_env, void* data, void*) {
  Poll* p = static_cast<Poll*>(data);
  StartClose(p);
  Release(p);
}

// Readiness (or an error) on the socket: call back into JavaScript as an async operation of its own, so
// promises resolved in the callback run before libuv continues.
void OnReady(uv_poll_t* handle, int status, int events) {
  Poll* p = static_cast<Poll*>(handle->data);
  if (p->closing || p->callback == nullptr) return;
  napi_env env = p->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn = nullptr, recv, argv[2], result;  // napi_make_callback needs an object receiver: the global
  if (napi_get_reference_value(env, p->callback, &fn) != napi_ok || fn == nullptr ||
      napi_get_global(env, &recv) != napi_ok || napi_create_int32(env, status, &argv[0]) != napi_ok ||
      napi_create_int32(env, events, &argv[1]) != napi_ok) {
    napi_close_handle_scope(env, scope);
    return;  // the environment is going away: its teardown closes this poller
  }
  bool pending = false;
  if (napi_make_callback(env, p->context, recv, fn, 2, argv, &result) != napi_ok &&
      napi_is_exception_pending(env, &pending) == napi_ok && pending) {
    // An exception thrown by the callback: reported as any uncaught exception would be anywhere else.
    // With none pending, the environment could not run JavaScript (it is being torn down): nothing to say.
    napi_value err;
    if (napi_get_and_clear_last_exception(env, &err) == napi_ok) napi_fatal_exception(env, err);
  }
  napi_close_handle_scope(env, scope);
}

Poll* PollOf(const Napi::CallbackInfo& info, size_t i) {
  Poll* p = PollOfValue(info[i]);
  if (p == nullptr) Fail(info, i, "a poller");
  return p;
}

// pollOpen(fd, callback(status, events)) -> poller | -errno. The poller takes ownership of fd.
Napi::Value PollOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgInt(info, 0, &fd)) return env.Undefined();
  if (!info[1].IsFunction()) {
    Fail(info, 1, "a function");
    return env.Undefined();
  }
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) return Result(env, -EINVAL);
  auto* p = new Poll();
  p->env = env;
  p->fd = fd;
  int r = uv_poll_init(loop, &p->handle, fd);  // libuv errors are -errno on Unix
  if (r != 0) {
    delete p;
    return Result(env, r);
  }
  {
    Pollers& ps = pollers();
    std::lock_guard<std::mutex> lock(ps.mutex);
    ps.live.insert(p);
  }
  p->handle.data = p;
  napi_value name, external;
  if (napi_create_string_utf8(env, "memseal.FdPoll", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, nullptr, name, &p->context) != napi_ok ||
      napi_create_reference(env, info[1], 1, &p->callback) != napi_ok ||
      napi_add_async_cleanup_hook(env, OnTeardown, p, &p->hook) != napi_ok ||
      napi_create_external(env, p, OnFinalize, nullptr, &external) != napi_ok) {
    // Only while the environment is going away. The handle is closed on its loop (which frees it); the
    // socket is the caller's again, as on any failure.
    p->fd = -1;
    p->owners = 1;
    StartClose(p);
    return env.Undefined();
  }
  return Napi::Value(env, external);
}

// recvmsg(poller, buffer, room) -> { bytes, fds, truncated } | -errno. One non-blocking recvmsg into
// buffer (EAGAIN when nothing is waiting; bytes 0 at end of stream), accepting at most `room` descriptors:
// the kernel closes any beyond (MSG_CTRUNC), so a peer can never make this process hold more. Received
// descriptors are close-on-exec (MSG_CMSG_CLOEXEC), so no child spawned meanwhile inherits them, and held
// by the poller until pollRelease() or pollDiscard(). truncated: MSG_CTRUNC, i.e. descriptors were
// dropped, either beyond `room` (fds.length === room) or because this process could not take them
// (fewer: EMFILE or ENFILE, this process's limits, not the peer's doing).
Napi::Value Recvmsg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Poll* p = PollOf(info, 0);
  uint8_t* data;
  size_t length;
  int room;
  if (p == nullptr || !ArgBytes(info, 1, &data, &length) || !ArgInt(info, 2, &room)) return env.Undefined();
  if (p->closing) return Result(env, -EBADF);
  if (length == 0 || room < 1 || room > static_cast<int>(kMaxRecvFds)) return Result(env, -EINVAL);
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxRecvFds)];
  iovec iov = {data, length};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = CMSG_SPACE(sizeof(int) * static_cast<size_t>(room));
  ssize_t n;
  do {
    n = recvmsg(p->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Result(env, -errno);
  std::vector<int> fds;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t j = 0; j < k; j++) {
      int received;
      std::memcpy(&received, CMSG_DATA(c) + j * sizeof(int), sizeof(int));
      fds.push_back(received);
    }
  }
  p->held.insert(p->held.end(), fds.begin(), fds.end());
  napi_value out, list, value;
  bool ok =
      napi_create_object(env, &out) == napi_ok && napi_create_array_with_length(env, fds.size(), &list) == napi_ok;
  for (size_t j = 0; ok && j < fds.size(); j++) {
    ok = napi_create_int32(env, fds[j], &value) == napi_ok && napi_set_element(env, list, j, value) == napi_ok;
  }
  ok = ok && napi_create_double(env, static_cast<double>(n), &value) == napi_ok &&
       napi_set_named_property(env, out, "bytes", value) == napi_ok &&
       napi_set_named_property(env, out, "fds", list) == napi_ok &&
       napi_get_boolean(env, (msg.msg_flags & MSG_CTRUNC) != 0, &value) == napi_ok &&
       napi_set_named_property(env, out, "truncated", value) == napi_ok;
  // Not ok only while the environment is going away: the descriptors stay held, closed with the poller.
  return ok ? Napi::Value(env, out) : env.Undefined();
}

// The descriptors of `list` that this poller holds, removed from what it holds.
std::vector<int> Unhold(Poll* p, const Napi::CallbackInfo& info, size_t i, bool* ok) {
  std::vector<int> out;
  *ok = info[i].IsArray();
  if (!*ok) {
    Fail(info, i, "an array of file descriptors");
    return out;
  }
  Napi::Array list = info[i].As<Napi::Array>();
  for (uint32_t k = 0; k < list.Length(); k++) {
    napi_value v;
    int32_t fd;
    if (napi_get_element(info.Env(), list, k, &v) != napi_ok || napi_get_value_int32(info.Env(), v, &fd) != napi_ok) {
      continue;
    }
    auto it = std::find(p->held.begin(), p->held.end(), fd);
    if (it == p->held.end()) continue;  // not ours to give away or close
    p->held.erase(it);
    out.push_back(fd);
  }
  return out;
}

// pollRelease(poller, fds) -> 0: the caller owns these received descriptors from now on.
Napi::Value PollRelease(const Napi::CallbackInfo& info) {
  Poll* p = PollOf(info, 0);
  if (p == nullptr) return info.Env().Undefined();
  bool ok;
  Unhold(p, info, 1, &ok);
  return ok ? Result(info.Env(), 0) : info.Env().Undefined();
}

// pollDiscard(poller, fds) -> 0: closes these received descriptors (a refused message's).
Napi::Value PollDiscard(const Napi::CallbackInfo& info) {
  Poll* p = PollOf(info, 0);
  if (p == nullptr) return info.Env().Undefined();
  bool ok;
  for (int fd : Unhold(p, info, 1, &ok)) close(fd);
  return ok ? Result(info.Env(), 0) : info.Env().Undefined();
}

// pollHeld(poller) -> how many received descriptors the poller holds (tests of the descriptor bound).
Napi::Value PollHeld(const Napi::CallbackInfo& info) {
  Poll* p = PollOf(info, 0);
  if (p == nullptr) return info.Env().Undefined();
  return Result(info.Env(), static_cast<long>(p->held.size()));
}

// pollStart(poller, events) -> 0 | -errno. events: READABLE | WRITABLE | DISCONNECT; 0 stops watching.
Napi::Value PollStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Poll* p = PollOf(info, 0);
  int events;
  if (p == nullptr || !ArgInt(info, 1, &events)) return env.Undefined();
  if (p->closing) return Result(env, -EBADF);
  if (events == 0) return Result(env, uv_poll_stop(&p->handle));
  return Result(env, uv_poll_start(&p->handle, events, OnReady));
}

// pollWait(poller, write, timeoutMs) -> revents | 0 | -errno: blocks this thread in poll(2) until the socket is
// readable (or writable too, when `write`: a send of our own still queued), hung up, or failed; 0 once
// timeoutMs (-1: no limit) has passed. The synchronous receive's wait; a signal handled meanwhile
// (EINTR) is waited through with the time that is left.
Napi::Value PollWait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Poll* p = PollOf(info, 0);
  int timeout;
  if (p == nullptr || !ArgInt(info, 2, &timeout)) return env.Undefined();
  if (p->closing) return Result(env, -EBADF);
  pollfd fds = {p->fd, static_cast<short>(POLLIN | (info[1].ToBoolean() ? POLLOUT : 0)), 0};
  uint64_t deadline = timeout < 0 ? 0 : uv_hrtime() + static_cast<uint64_t>(timeout) * 1000000;
  for (;;) {
    int r = poll(&fds, 1, timeout);
    if (r >= 0) return Result(env, r == 0 ? 0 : fds.revents);
    if (errno != EINTR) return Result(env, -errno);
    if (timeout > 0) {
      uint64_t now = uv_hrtime();
      timeout = now >= deadline ? 0 : static_cast<int>((deadline - now + 999999) / 1000000);
    }
  }
}

// pollRef(poller, ref) -> 0: whether a watching poller keeps the event loop (the process) alive.
Napi::Value PollRef(const Napi::CallbackInfo& info) {
  Poll* p = PollOf(info, 0);
  if (p == nullptr) return info.Env().Undefined();
  if (p->closing) return Result(info.Env(), -EBADF);
  if (info[1].ToBoolean()) {
    uv_ref(reinterpret_cast<uv_handle_t*>(&p->handle));
  } else {
    uv_unref(reinterpret_cast<uv_handle_t*>(&p->handle));
  }
  return Result(info.Env(), 0);
}

// pollClose(poller) -> 0: stops watching and closes the socket once libuv lets go of it. Idempotent.
Napi::Value PollClose(const Napi::CallbackInfo& info) {
  Poll* p = PollOf(info, 0);
  if (p == nullptr) return info.Env().Undefined();
  StartClose(p);
  return Result(info.Env(), 0);
}

}  // namespace

bool TakeHeld(Napi::Value poller, int fd) {
  Poll* p = PollOfValue(poller);
  if (p == nullptr) return false;
  auto it = std::find(p->held.begin(), p->held.end(), fd);
  if (p->closing || it == p->held.end()) return false;
  p->held.erase(it);
  return true;
}

void InitFdPass(Napi::Env env, Napi::Object exports) {
  Napi::Object fdpass = Napi::Object::New(env);
  fdpass.Set("socketpair", Napi::Function::New(env, Socketpair, "socketpair"));
  fdpass.Set("listen", Napi::Function::New(env, Listen, "listen"));
  fdpass.Set("accept", Napi::Function::New(env, Accept, "accept"));
  fdpass.Set("connect", Napi::Function::New(env, Connect, "connect"));
  fdpass.Set("socketInfo", Napi::Function::New(env, SocketInfo, "socketInfo"));
  fdpass.Set("sendmsg", Napi::Function::New(env, Sendmsg, "sendmsg"));
  fdpass.Set("recvmsg", Napi::Function::New(env, Recvmsg, "recvmsg"));
  fdpass.Set("pollRelease", Napi::Function::New(env, PollRelease, "pollRelease"));
  fdpass.Set("pollDiscard", Napi::Function::New(env, PollDiscard, "pollDiscard"));
  fdpass.Set("pollHeld", Napi::Function::New(env, PollHeld, "pollHeld"));
  fdpass.Set("pollOpen", Napi::Function::New(env, PollOpen, "pollOpen"));
  fdpass.Set("pollWait", Napi::Function::New(env, PollWait, "pollWait"));
  fdpass.Set("pollStart", Napi::Function::New(env, PollStart, "pollStart"));
  fdpass.Set("pollRef", Napi::Function::New(env, PollRef, "pollRef"));
  fdpass.Set("pollClose", Napi::Function::New(env, PollClose, "pollClose"));
  Napi::Object c = Napi::Object::New(env);
  c.Set("AF_UNIX", Napi::Number::New(env, AF_UNIX));
  c.Set("SOCK_STREAM", Napi::Number::New(env, SOCK_STREAM));
  c.Set("UV_READABLE", Napi::Number::New(env, UV_READABLE));
  c.Set("UV_WRITABLE", Napi::Number::New(env, UV_WRITABLE));
  c.Set("UV_DISCONNECT", Napi::Number::New(env, UV_DISCONNECT));
  c.Set("MAX_RECV_FDS", Napi::Number::New(env, kMaxRecvFds));
  c.Set("MAX_SEND_FDS", Napi::Number::New(env, static_cast<double>(kMaxSendFds)));
  fdpass.Set("constants", c);
  exports.Set("fdpass", fdpass);
}

}  // namespace memseal
