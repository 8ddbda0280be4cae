#!/usr/bin/env python3
"""Do to a window what another X client could: no dependency beyond libX11 (ctypes).

usage: xact.py kill|destroy|delete|netclose WINDOW   (an id, decimal or 0x hex, or
       name:PREFIX for the top-level window whose title starts with PREFIX)
  kill     XKillClient(window)         - what `xkill` / `xdotool windowkill` do
  destroy  XDestroyWindow(window)      - what `xdotool windowclose` does (xdotool 3.2016)
  delete   ClientMessage WM_PROTOCOLS/WM_DELETE_WINDOW to the window (a WM's close button,
           `xdotool windowquit` in xdotool >= 3.20210804)
  netclose ClientMessage _NET_CLOSE_WINDOW to the root (`wmctrl -c`; needs a running WM)
"""
import ctypes
import ctypes.util
import sys

x = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
x.XOpenDisplay.restype = ctypes.c_void_p
x.XOpenDisplay.argtypes = [ctypes.c_char_p]
x.XInternAtom.restype = ctypes.c_ulong
x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
x.XKillClient.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
x.XDestroyWindow.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
x.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
x.XCloseDisplay.argtypes = [ctypes.c_void_p]
x.XDefaultRootWindow.restype = ctypes.c_ulong
x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]


class XClientMessageEvent(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("serial", ctypes.c_ulong),
        ("send_event", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("window", ctypes.c_ulong),
        ("message_type", ctypes.c_ulong),
        ("format", ctypes.c_int),
        ("l", ctypes.c_long * 5),
    ]


class XEvent(ctypes.Union):
    _fields_ = [("xclient", XClientMessageEvent), ("pad", ctypes.c_long * 24)]


x.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long,
                         ctypes.POINTER(XEvent)]

x.XQueryTree.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(ctypes.c_ulong),
                         ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.POINTER(ctypes.c_ulong)),
                         ctypes.POINTER(ctypes.c_uint)]
x.XFetchName.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(ctypes.c_char_p)]
x.XFree.argtypes = [ctypes.c_void_p]


def top_level_named(d, prefix):
    """The first child of the root window whose WM_NAME starts with `prefix`."""
    root, parent = ctypes.c_ulong(), ctypes.c_ulong()
    children, n = ctypes.POINTER(ctypes.c_ulong)(), ctypes.c_uint()
    if not x.XQueryTree(d, x.XDefaultRootWindow(d), ctypes.byref(root), ctypes.byref(parent),
                        ctypes.byref(children), ctypes.byref(n)):
        return None
    found = None
    for i in range(n.value):
        name = ctypes.c_char_p()
        if x.XFetchName(d, children[i], ctypes.byref(name)) and name.value is not None:
            if name.value.decode("latin-1").startswith(prefix):
                found = children[i]
        if found:
            break
    return found


ClientMessage = 33
SubstructureRedirectMask = 1 << 20
SubstructureNotifyMask = 1 << 19


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    action, target = sys.argv[1], sys.argv[2]
    d = x.XOpenDisplay(None)
    if not d:
        sys.exit("cannot open display")
    if target.startswith("name:"):
        win = top_level_named(d, target[len("name:"):])
        if not win:
            sys.exit(f"no top-level window named {target[5:]!r}")
        print(hex(win))
    else:
        win = int(target, 0)
    if action == "kill":
        x.XKillClient(d, win)
    elif action == "destroy":
        x.XDestroyWindow(d, win)
    elif action in ("delete", "netclose"):
        ev = XEvent()
        ev.xclient.type = ClientMessage
        ev.xclient.format = 32
        if action == "delete":
            ev.xclient.window = win
            ev.xclient.message_type = x.XInternAtom(d, b"WM_PROTOCOLS", 0)
            ev.xclient.l[0] = x.XInternAtom(d, b"WM_DELETE_WINDOW", 0)
            ev.xclient.l[1] = 0  # CurrentTime
            x.XSendEvent(d, win, 0, 0, ctypes.byref(ev))
        else:
            ev.xclient.window = win
            ev.xclient.message_type = x.XInternAtom(d, b"_NET_CLOSE_WINDOW", 0)
            ev.xclient.l[0] = 0
            ev.xclient.l[1] = 2  # source: pager
            x.XSendEvent(d, x.XDefaultRootWindow(d), 0,
                         SubstructureRedirectMask | SubstructureNotifyMask, ctypes.byref(ev))
    else:
        sys.exit(__doc__)
    x.XSync(d, 0)
    x.XCloseDisplay(d)


if __name__ == "__main__":
    main()
