#!/usr/bin/env python3
"""Do to a window what another X client could: no dependency beyond libX11 (ctypes).

usage: xact.py kill|destroy|delete|netclose|title WINDOW   (an id, decimal or 0x hex, or
       name:PREFIX for the top-level window whose title starts with PREFIX)
  title    prints the window's title (what a window manager shows above it)
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


x.XGetWindowProperty.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_long,
                                 ctypes.c_long, ctypes.c_int, ctypes.c_ulong,
                                 ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.c_int),
                                 ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.c_ulong),
                                 ctypes.POINTER(ctypes.c_void_p)]


def title(d, win):
    """_NET_WM_NAME (UTF-8), else WM_NAME."""
    for prop, kind in ((b"_NET_WM_NAME", b"UTF8_STRING"), (b"WM_NAME", None)):
        atom = x.XInternAtom(d, prop, 0)
        req_type = x.XInternAtom(d, kind, 0) if kind else 0  # 0: AnyPropertyType
        actual, fmt = ctypes.c_ulong(), ctypes.c_int()
        n, after, data = ctypes.c_ulong(), ctypes.c_ulong(), ctypes.c_void_p()
        if x.XGetWindowProperty(d, win, atom, 0, 1024, 0, req_type, ctypes.byref(actual),
                                ctypes.byref(fmt), ctypes.byref(n), ctypes.byref(after),
                                ctypes.byref(data)) == 0 and data.value and fmt.value == 8:
            raw = ctypes.string_at(data.value, n.value)
            x.XFree(data)
            return raw.decode("utf-8", "replace")
    return None


def children_of(d, win):
    root, parent = ctypes.c_ulong(), ctypes.c_ulong()
    children, n = ctypes.POINTER(ctypes.c_ulong)(), ctypes.c_uint()
    if not x.XQueryTree(d, win, ctypes.byref(root), ctypes.byref(parent),
                        ctypes.byref(children), ctypes.byref(n)):
        return []
    return [children[i] for i in range(n.value)]


def top_level_named(d, prefix):
    """The first window (top-level first, then one level down: a reparenting window manager
    puts a frame around it) whose title starts with `prefix`; waits up to 10 s for it."""
    import time
    deadline = time.monotonic() + 10
    while True:
        tops = children_of(d, x.XDefaultRootWindow(d))
        for win in tops + [c for t in tops for c in children_of(d, t)]:
            name = title(d, win)
            if name and name.startswith(prefix):
                return win
        if time.monotonic() > deadline:
            return None
        time.sleep(0.2)


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
    if action == "title":
        print(title(d, win))
    elif action == "kill":
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
