// SPDX-License-Identifier: Apache-2.0
//
// A Go vsock program as Nitro users write them: Go's own runtime (static,
// CGO_ENABLED=0), AF_VSOCK through raw system calls, no Cloister library.
// Built and run inside an enclave by test_runtime_static.py.
//
//	vsock_go PARENT_PORT LISTEN_PORT
//
// asks its CID of /dev/vsock, connects to the parent (3, PARENT_PORT) and
// sends "go <cid>", then listens on LISTEN_PORT and answers each
// connection's line with "go-echo <line> from <peer cid>", forever. The
// listener is non-blocking and waited for with epoll, as Go's net package
// does.
package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"unsafe"
)

const (
	afVsock       = 40
	getLocalCID   = 0x7b9
	vmaddrCIDAny  = 0xffffffff
	vmaddrCIDHost = 3
)

type sockaddrVM struct {
	family    uint16
	reserved1 uint16
	port      uint32
	cid       uint32
	flags     uint8
	zero      [3]uint8
}

func die(what string, err error) {
	fmt.Printf("vsock_go: %s: %v\n", what, err)
	os.Exit(1)
}

func sockcall(nr uintptr, fd int, sa *sockaddrVM) error {
	_, _, e := syscall.Syscall(nr, uintptr(fd), uintptr(unsafe.Pointer(sa)), unsafe.Sizeof(*sa))
	if e != 0 {
		return e
	}
	return nil
}

func main() {
	parentPort, _ := strconv.Atoi(os.Args[1])
	listenPort, _ := strconv.Atoi(os.Args[2])

	dev, err := os.Open("/dev/vsock")
	if err != nil {
		die("open /dev/vsock", err)
	}
	var cid uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, dev.Fd(), getLocalCID, uintptr(unsafe.Pointer(&cid))); e != 0 {
		die("IOCTL_VM_SOCKETS_GET_LOCAL_CID", e)
	}
	dev.Close()

	s, err := syscall.Socket(afVsock, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		die("socket", err)
	}
	parent := sockaddrVM{family: afVsock, cid: vmaddrCIDHost, port: uint32(parentPort)}
	if err := sockcall(syscall.SYS_CONNECT, s, &parent); err != nil {
		die("connect to the parent", err)
	}
	syscall.Write(s, []byte(fmt.Sprintf("go %d", cid)))
	syscall.Close(s)

	l, err := syscall.Socket(afVsock, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		die("socket", err)
	}
	me := sockaddrVM{family: afVsock, cid: vmaddrCIDAny, port: uint32(listenPort)}
	if err := sockcall(syscall.SYS_BIND, l, &me); err != nil {
		die("bind", err)
	}
	if err := syscall.Listen(l, 8); err != nil {
		die("listen", err)
	}
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		die("epoll", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(l)}
	if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, l, &ev); err != nil {
		die("epoll_ctl", err)
	}
	fmt.Printf("vsock_go: cid %d listening on %d\n", cid, listenPort)
	events := make([]syscall.EpollEvent, 1)
	for {
		if _, err := syscall.EpollWait(ep, events, -1); err != nil && err != syscall.EINTR {
			die("epoll_wait", err)
		}
		var peer sockaddrVM
		plen := uint32(unsafe.Sizeof(peer))
		c, _, e := syscall.Syscall6(syscall.SYS_ACCEPT4, uintptr(l), uintptr(unsafe.Pointer(&peer)),
			uintptr(unsafe.Pointer(&plen)), syscall.SOCK_CLOEXEC, 0, 0)
		if e == syscall.EAGAIN {
			continue
		}
		if e != 0 {
			die("accept4", e)
		}
		buf := make([]byte, 100)
		n, _ := syscall.Read(int(c), buf)
		if n > 0 {
			syscall.Write(int(c), []byte(fmt.Sprintf("go-echo %s from %d", buf[:n], peer.cid)))
		}
		syscall.Close(int(c))
	}
}
