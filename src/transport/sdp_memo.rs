//! SDP parsing, memoised per thread for the test kit's fuzzing host only.
//!
//! str0m's SDP parser is the single largest cost of a fuzz input: the `sdp`
//! target hands the same input text to four transports and sets two of them
//! up with the same two canned offers every time, and under the fuzzer's
//! instrumentation parsing costs about 2 µs per byte. Parsing is a pure
//! function of the text, so the fuzzing host (`manifold_testkit::fuzz::Host`,
//! through `crate::testkit_hooks::enable_sdp_memo`) switches this memo on
//! for its thread: the first parse of a text runs
//! str0m's parser as always (coverage and all), later ones get a clone of
//! that result. What each input reaches and what the checks see is the same.
//!
//! Off unless `enable` was called on the thread, so a production router
//! always parses, and keeps nothing. Without the feature `testkit-hooks`
//! (and outside unit tests) there is no memo at all: [`offer`] and
//! [`answer`] are str0m's parsers.

#[cfg(any(test, feature = "testkit-hooks"))]
use std::cell::RefCell;

use str0m::change::{SdpAnswer, SdpOffer};

/// Distinct texts kept (most recently used first): the input, the two
/// canned offers, and a few answers and mutations.
#[cfg(any(test, feature = "testkit-hooks"))]
const ENTRIES: usize = 8;

/// A parse result: the SDP (as an offer; answers share the type inside) or
/// str0m's error message.
#[cfg(any(test, feature = "testkit-hooks"))]
type Parsed = Result<SdpOffer, String>;

#[cfg(any(test, feature = "testkit-hooks"))]
thread_local! {
    static MEMO: RefCell<Option<Vec<(String, Parsed)>>> = const { RefCell::new(None) };
}

/// Memoise parses on this thread from now on.
#[cfg(any(test, feature = "testkit-hooks"))]
pub(crate) fn enable() {
    MEMO.with(|m| {
        m.borrow_mut().get_or_insert_with(Vec::new);
    });
}

/// `text` parsed as an offer; an error is str0m's message.
pub(crate) fn offer(text: &str) -> Result<SdpOffer, String> {
    #[cfg(any(test, feature = "testkit-hooks"))]
    if let Some(parsed) = memoised(text, |sdp| SdpOffer::from((**sdp).clone())) {
        return parsed;
    }
    SdpOffer::from_sdp_string(text).map_err(|e| e.to_string())
}

/// `text` parsed as an answer; an error is str0m's message.
pub(crate) fn answer(text: &str) -> Result<SdpAnswer, String> {
    #[cfg(any(test, feature = "testkit-hooks"))]
    if let Some(parsed) = memoised(text, |sdp| SdpAnswer::from((**sdp).clone())) {
        return parsed;
    }
    SdpAnswer::from_sdp_string(text).map_err(|e| e.to_string())
}

/// With the memo on, `text` parsed (str0m parses offers and answers alike)
/// or the memoised result, as `T`; `None` with the memo off.
#[cfg(any(test, feature = "testkit-hooks"))]
fn memoised<T>(text: &str, convert: impl Fn(&SdpOffer) -> T) -> Option<Result<T, String>> {
    MEMO.with(|m| {
        let mut memo = m.borrow_mut();
        let entries = memo.as_mut()?;
        let parsed = match entries.iter().position(|(t, _)| t == text) {
            Some(i) => entries.remove(i).1,
            None => SdpOffer::from_sdp_string(text).map_err(|e| e.to_string()),
        };
        let result = match &parsed {
            Ok(sdp) => Ok(convert(sdp)),
            Err(e) => Err(e.clone()),
        };
        entries.insert(0, (text.to_owned(), parsed));
        entries.truncate(ENTRIES);
        Some(result)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDP: &str = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n";

    #[test]
    fn memo_returns_what_a_parse_returns() {
        let plain = offer(SDP).map(|o| o.to_sdp_string());
        let bad = offer("x=").map(|o| o.to_sdp_string());
        enable();
        for _ in 0..2 {
            assert_eq!(offer(SDP).map(|o| o.to_sdp_string()), plain);
            assert_eq!(offer("x=").map(|o| o.to_sdp_string()), bad);
            let a = answer(SDP).map(|a| a.to_sdp_string());
            assert_eq!(a, plain);
        }
        assert!(bad.is_err());
    }
}
