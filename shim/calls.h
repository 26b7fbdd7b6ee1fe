// The syscall layer (like gVisor's sys_socket.go): what each interposed call does once the fd is
// known to be a stack socket. Arguments are checked here in Linux's order, results are copied out,
// and errno is set once. Each returns what the libc function returns.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>

namespace tapsock::shim {

// socket_calls.cc
int OpenSocket(int domain, int type, int protocol);
int Bind(int fd, const sockaddr* addr, socklen_t len);
int Connect(int fd, const sockaddr* addr, socklen_t len);
int Listen(int fd, int backlog);
int Accept(int fd, sockaddr* addr, socklen_t* len, int flags);
int Shutdown(int fd, int how);
int GetSockName(int fd, sockaddr* addr, socklen_t* len);
int GetPeerName(int fd, sockaddr* addr, socklen_t* len);
int Ioctl(int fd, unsigned long request, void* arg);

// fd_calls.cc: calls that create, copy or destroy fds (on any fd, not only stack sockets).
int Close(int fd);
int CloseRange(unsigned first, unsigned last, int flags);
int Dup(int fd);
int Dup3(int oldfd, int newfd, int flags, bool is_dup2);
int Fcntl(int fd, int cmd, void* arg, bool is64);
int AfterFdCreated(int fd);  // drops a stale table entry for a number the kernel handed out

// io_calls.cc
ssize_t SendMsg(int fd, const msghdr* msg, int flags);
ssize_t RecvMsg(int fd, msghdr* msg, int flags);
ssize_t SendTo(int fd, const void* buf, size_t len, int flags, const sockaddr* addr, socklen_t alen);
ssize_t RecvFrom(int fd, void* buf, size_t len, int flags, sockaddr* addr, socklen_t* alen);
ssize_t ReadV(int fd, const iovec* iov, int iovcnt);
ssize_t WriteV(int fd, const iovec* iov, int iovcnt);
int SendMmsg(int fd, mmsghdr* vec, unsigned vlen, int flags);
int RecvMmsg(int fd, mmsghdr* vec, unsigned vlen, int flags, timespec* timeout);

// sockopt.cc
int GetSockOpt(int fd, int level, int name, void* val, socklen_t* len);
int SetSockOpt(int fd, int level, int name, const void* val, socklen_t len);

// readiness.cc: these see kernel and stack fds together.
int PPoll(pollfd* fds, nfds_t n, const timespec* timeout, const sigset_t* mask, bool is_ppoll);
int PSelect(int nfds, fd_set* r, fd_set* w, fd_set* e, const timespec* timeout, const sigset_t* mask,
            timeval* update);

}  // namespace tapsock::shim
