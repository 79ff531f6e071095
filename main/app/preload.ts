/**
 * The preload of every app window (sandboxed, context-isolated). It exposes one object,
 * `window.omnifusion`, implementing OmniFusionApi (plus, on a capture overlay only,
 * `window.omnifusionCapture` to answer with the selection), and nothing else: no ipcRenderer, no
 * channel names, no Node. Built by esbuild into one CommonJS file (dist/main/app/preload.cjs), because a
 * sandboxed preload cannot load ES modules or `require` local files, only 'electron' and a few
 * polyfilled built-ins.
 *
 * Events: the preload asks main for a MessagePort (EVENTS_CONNECT_CHANNEL) and main posts it on
 * EVENTS_PORT_CHANNEL; tokens then stream over that port. Asking (rather than waiting for main to
 * push at 'did-finish-load') cannot race the listener below, and a reload simply asks again.
 */
import { contextBridge, ipcRenderer } from 'electron';
import { EVENTS_CONNECT_CHANNEL, EVENTS_PORT_CHANNEL } from './channels.js';
import { parseRoute } from '../api/capture.js';
import { createCaptureBridge, createPreloadApi } from './preload-api.js';

const preload = createPreloadApi((channel, request) => ipcRenderer.invoke(channel, request));

let closeCurrent: (() => void) | undefined;

ipcRenderer.on(EVENTS_PORT_CHANNEL, (event) => {
  const port = event.ports[0];
  if (!port) return;
  closeCurrent?.();
  closeCurrent = () => port.close();
  // Assigning onmessage starts the port.
  port.onmessage = (message: { data: unknown }) => preload.receive(message.data);
});
ipcRenderer.send(EVENTS_CONNECT_CHANNEL);

contextBridge.exposeInMainWorld('omnifusion', preload.api);
// A capture overlay answers main with its selection; no other page gets this object.
if (parseRoute(location.hash).kind === 'capture-overlay') {
  contextBridge.exposeInMainWorld('omnifusionCapture', createCaptureBridge((channel, request) => ipcRenderer.invoke(channel, request)));
}
