//! Browser transport: the BOLT 8 byte stream over a `WebSocket` (binary
//! frames, `binaryType = "arraybuffer"`), with an open timeout and a clean
//! close. Works wherever a global `WebSocket` exists (browsers, workers,
//! Node 22+).
//!
//! [`WsStream::open`] reports what happens through one callback
//! ([`WsEvent`]); [`WsStream::send`] writes bytes. The stream knows nothing
//! of Lightning: `crate::js` connects it to a
//! [`PeerConnection`](crate::peer::PeerConnection).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use js_sys::{ArrayBuffer, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

use super::TransportError;

#[wasm_bindgen]
extern "C" {
    /// The global `setTimeout` (browsers, workers and Node).
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout_js(f: &JsValue, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout_js(handle: &JsValue);
}

/// A pending `setTimeout`, cleared on drop.
pub struct Timer {
    handle: JsValue,
    _callback: Closure<dyn FnMut()>,
}

impl Timer {
    /// Calls `f` once after `delay`.
    pub fn once(delay: Duration, f: impl FnOnce() + 'static) -> Timer {
        let mut f = Some(f);
        let callback = Closure::<dyn FnMut()>::new(move || {
            if let Some(f) = f.take() {
                f()
            }
        });
        let ms = delay.as_millis().min(i32::MAX as u128) as f64;
        let handle = set_timeout_js(callback.as_ref(), ms);
        Timer {
            handle,
            _callback: callback,
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        clear_timeout_js(&self.handle);
    }
}

/// Drops `value` from a fresh task, so that closures can be released from
/// inside their own invocation.
pub fn drop_later<T: 'static>(value: T) {
    let f = Closure::once_into_js(move || drop(value));
    set_timeout_js(&f, 0.0);
}

/// What a [`WsStream`] reports.
#[derive(Debug)]
pub enum WsEvent {
    /// The socket is open: bytes may be sent.
    Open,
    /// A binary frame arrived.
    Data(Vec<u8>),
    /// The socket did not open: refused, unreachable, or the proxy
    /// answered with an HTTP error ([`TransportError::ConnectFailed`]), or it
    /// took too long ([`TransportError::ConnectTimeout`]).
    OpenFailed(TransportError),
    /// The open socket closed (`code`/`reason` from the close frame, 1006
    /// when the connection dropped). No events follow.
    Closed {
        code: u16,
        reason: String,
        clean: bool,
    },
}

struct Handlers {
    _open: Closure<dyn FnMut()>,
    _message: Closure<dyn FnMut(MessageEvent)>,
    _close: Closure<dyn FnMut(CloseEvent)>,
}

struct State {
    opened: bool,
    finished: bool,
    open_timer: Option<Timer>,
    url: String,
}

/// A WebSocket carrying a byte stream.
pub struct WsStream {
    ws: WebSocket,
    state: Rc<RefCell<State>>,
    handlers: Option<Handlers>,
}

impl WsStream {
    /// Opens `url` (`ws:` or `wss:`). `on_event` receives [`WsEvent::Open`]
    /// or [`WsEvent::OpenFailed`] first, then data and finally
    /// [`WsEvent::Closed`]. It is never called re-entrantly from
    /// [`WsStream::send`] or [`WsStream::close`].
    pub fn open(
        url: &str,
        open_timeout: Duration,
        on_event: impl FnMut(WsEvent) + 'static,
    ) -> Result<WsStream, TransportError> {
        if !(url.starts_with("ws://") || url.starts_with("wss://")) {
            return Err(TransportError::InvalidUrl(format!(
                "{url}: must start with ws:// or wss://"
            )));
        }
        let has_ws = js_sys::Reflect::has(&js_sys::global(), &JsValue::from_str("WebSocket"))
            .unwrap_or(false);
        if !has_ws {
            return Err(TransportError::WebSocketUnavailable);
        }
        let ws = WebSocket::new(url).map_err(|e| {
            TransportError::InvalidUrl(
                e.dyn_ref::<js_sys::Error>()
                    .map_or_else(|| url.to_string(), |e| String::from(e.message())),
            )
        })?;
        ws.set_binary_type(BinaryType::Arraybuffer);
        let on_event = Rc::new(RefCell::new(on_event));
        let state = Rc::new(RefCell::new(State {
            opened: false,
            finished: false,
            open_timer: None,
            url: url.to_string(),
        }));

        let (st, cb) = (state.clone(), on_event.clone());
        let open = Closure::<dyn FnMut()>::new(move || {
            {
                let mut s = st.borrow_mut();
                if s.finished {
                    return;
                }
                s.opened = true;
                s.open_timer = None;
            }
            (cb.borrow_mut())(WsEvent::Open);
        });
        let (st, cb) = (state.clone(), on_event.clone());
        let message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            if st.borrow().finished {
                return;
            }
            // Text frames are not part of the protocol: ignored.
            if let Ok(buf) = e.data().dyn_into::<ArrayBuffer>() {
                (cb.borrow_mut())(WsEvent::Data(Uint8Array::new(&buf).to_vec()));
            }
        });
        let (st, cb) = (state.clone(), on_event.clone());
        let close = Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| {
            let ev = {
                let mut s = st.borrow_mut();
                if s.finished {
                    return;
                }
                s.finished = true;
                s.open_timer = None;
                if s.opened {
                    WsEvent::Closed {
                        code: e.code(),
                        reason: e.reason(),
                        clean: e.was_clean(),
                    }
                } else {
                    WsEvent::OpenFailed(TransportError::ConnectFailed(format!(
                        "{}: WebSocket closed before opening (code {})",
                        s.url,
                        e.code()
                    )))
                }
            };
            (cb.borrow_mut())(ev);
        });
        ws.set_onopen(Some(open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(close.as_ref().unchecked_ref()));
        // `error` is always followed by `close`, which reports it.

        let (st, cb, ws2) = (state.clone(), on_event, ws.clone());
        let timer = Timer::once(open_timeout, move || {
            {
                let mut s = st.borrow_mut();
                if s.opened || s.finished {
                    return;
                }
                s.finished = true;
            }
            let _ = ws2.close();
            (cb.borrow_mut())(WsEvent::OpenFailed(TransportError::ConnectTimeout));
        });
        state.borrow_mut().open_timer = Some(timer);

        Ok(WsStream {
            ws,
            state,
            handlers: Some(Handlers {
                _open: open,
                _message: message,
                _close: close,
            }),
        })
    }

    /// Sends `bytes` as one binary frame.
    pub fn send(&self, bytes: &[u8]) -> Result<(), TransportError> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.ws
            .send_with_u8_array(bytes)
            .map_err(|_| TransportError::Io("WebSocket send failed".into()))
    }

    /// Bytes queued in the socket but not yet sent.
    pub fn buffered_amount(&self) -> u32 {
        self.ws.buffered_amount()
    }

    /// Starts a clean close (code 1000); [`WsEvent::Closed`] follows.
    pub fn close(&self) {
        let _ = self.ws.close_with_code(1000);
    }

    /// Whether [`WsEvent::Closed`] or [`WsEvent::OpenFailed`] was reported.
    pub fn is_finished(&self) -> bool {
        self.state.borrow().finished
    }
}

impl Drop for WsStream {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        if !self.state.borrow().finished {
            let _ = self.ws.close_with_code(1000);
        }
        self.state.borrow_mut().open_timer = None;
        // The handlers may be running right now (the stream can be dropped
        // from its own callback): release them from another task.
        if let Some(h) = self.handlers.take() {
            drop_later(h);
        }
    }
}
