/**
 * Entry of the engine process. Speaks the protocol of ../protocol.ts over whichever channel it was
 * started with: Electron's utilityProcess `process.parentPort`, or a Node child process IPC
 * channel. One request runs at a time; `cancel` is honoured between decoder steps. A bad request
 * answers with an `error` event and the process keeps serving.
 */
import { EngineServer, type EnginePort } from './engine-server.js';
import type { EngineEvent, EngineRequest } from '../protocol.js';

interface ParentPort {
  on(event: 'message', listener: (e: { data: EngineRequest }) => void): void;
  postMessage(message: EngineEvent): void;
}

function connect(): EnginePort {
  const parentPort = (process as unknown as { parentPort?: ParentPort }).parentPort;
  if (parentPort) {
    return {
      send: (event) => parentPort.postMessage(event),
      onMessage: (listener) => parentPort.on('message', (e) => listener(e.data)),
    };
  }
  if (!process.send) {
    process.stderr.write('engine-main: start this file as a child process (fork) or an Electron utilityProcess\n');
    process.exit(2);
  }
  return {
    // Once the host is gone (killed, crashed) there is nobody to answer: stop quietly instead of
    // failing on the closed channel (EPIPE) in the middle of a generation.
    send: (event) => {
      if (!process.connected) process.exit(0);
      process.send!(event, undefined, {}, (err) => {
        if (err) process.exit(0);
      });
    },
    onMessage: (listener) => process.on('message', (m) => listener(m as EngineRequest)),
  };
}

const port = connect();
new EngineServer(port).start();
process.on('disconnect', () => process.exit(0));
// Ctrl+C in a terminal signals the whole process group; the host decides what stops (it sends
// `cancel` and keeps the partial answer), so the engine must not die with the CLI's SIGINT.
process.on('SIGINT', () => undefined);
