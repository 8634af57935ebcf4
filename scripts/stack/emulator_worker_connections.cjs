// Functions emulator workaround, loaded into the firebase-tools process by firebase.sh.
//
// The Functions emulator forwards each call to a Python worker (functions-framework serving
// on gunicorn) with http.request and no agent of its own, so through Node's global agent, which
// keeps connections alive since Node 19. Gunicorn closes a connection that stayed idle for 2 s
// (its `keepalive`; functions-framework offers no way to set it). A call the emulator writes on
// such a connection just as gunicorn closes it is lost: the emulator answers the caller with a
// 500 of its own ({"code":"ECONNRESET"} or "socket hang up"), never reaching our code, and
// kills the worker. Without keep-alive every call gets a fresh loopback connection that the
// emulator itself closes after the answer, so there is no idle connection for gunicorn to close
// under it. A connection costs well under a millisecond on loopback.
'use strict';

const http = require('node:http');

http.globalAgent = new http.Agent({ keepAlive: false });
