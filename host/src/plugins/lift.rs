//! Lifting plugin results and `llm.complete` arguments with bounds checked *before*
//! anything is copied out of guest memory.
//!
//! The generated bindings lift `list<ranked>` or `list<message>` into owned `String`s
//! entry by entry, so a guest whose entries all point at one large string makes the
//! host copy that string once per entry (a 16 MiB guest can ask for terabytes).
//!
//! - Results of a hook are lifted while wasmtime still holds the guest's memory as it
//!   was returned (the guest's post-return cleanup runs right after), through the
//!   wrapper types [`BoundedString`] and [`BoundedVec`]: each reads the length from
//!   the canonical-ABI pointer pair, charges it to the call's budget, and only then
//!   lets wasmtime copy. The budget of the call being polled is reached through a
//!   thread-local that [`WithBudget`] installs around every poll of the call (the
//!   guest, and so the lift, runs on the polling thread).
//! - Arguments of host functions (`llm.complete`'s messages, strings) stay valid for
//!   the whole host call, so they are lifted as [`WasmStr`] / [`WasmList`] views and
//!   copied after the same checks.

use super::bindings::types;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use wasmtime::component::__internal::{CanonicalAbiInfo, InstanceType, InterfaceType, LiftContext};
use wasmtime::component::{ComponentType, Lift, WasmList, WasmStr};
use wasmtime::AsContextMut;

/// `types.query`, lifted within the budget.
#[derive(ComponentType, Lift)]
#[component(record)]
pub struct RawQuery {
    pub text: BoundedString,
    #[component(name = "request-id")]
    pub request_id: BoundedString,
}

/// `types.rejection`, lifted within the budget.
#[derive(ComponentType, Lift)]
#[component(record)]
pub struct RawRejection {
    pub reason: BoundedString,
    pub code: BoundedString,
}

/// `types.ranked`, lifted within the budget.
#[derive(ComponentType, Lift)]
#[component(record)]
pub struct RawRanked {
    pub id: BoundedString,
    pub score: f64,
}

/// `types.message`, lifted within the budget.
#[derive(ComponentType, Lift)]
#[component(record)]
pub struct RawResultMessage {
    pub role: types::Role,
    pub content: BoundedString,
}

/// `types.message` as guest-memory views (a host-function argument).
#[derive(ComponentType, Lift)]
#[component(record)]
pub struct RawMessage {
    role: types::Role,
    content: WasmStr,
}

thread_local! {
    /// The budget of the plugin call being polled on this thread, if any.
    static METER: RefCell<Option<Meter>> = const { RefCell::new(None) };
}

/// Charges `f`'s cost to the budget installed on this thread (no budget: free).
fn charge(f: impl FnOnce(&mut Meter) -> Result<(), LiftError>) -> wasmtime::Result<()> {
    METER.with(|m| match m.borrow_mut().as_mut() {
        Some(meter) => f(meter).map_err(wasmtime::Error::new),
        None => Ok(()),
    })
}

/// A WIT `string` whose length is charged to the call's budget before it is copied.
pub struct BoundedString(pub String);

// SAFETY: every item is `String`'s own; lifting checks a length, then defers to it.
unsafe impl ComponentType for BoundedString {
    type Lower = <String as ComponentType>::Lower;
    const ABI: CanonicalAbiInfo = <String as ComponentType>::ABI;

    fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
        <String as ComponentType>::typecheck(ty, types)
    }
}

/// The byte length of a canonical-ABI string from its stored length (UTF-16 strings
/// count two bytes a unit; the high bit tags latin1+utf16 strings).
fn string_bytes(len: u32) -> usize {
    (len & 0x7fff_ffff) as usize
}

// SAFETY: as above; the pointer pair is read as `String`'s lift reads it.
unsafe impl Lift for BoundedString {
    fn linear_lift_from_flat(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        src: &Self::Lower,
    ) -> wasmtime::Result<Self> {
        charge(|m| m.charge(string_bytes(src[1].get_u32())))?;
        String::linear_lift_from_flat(cx, ty, src).map(Self)
    }

    fn linear_lift_from_memory(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        bytes: &[u8],
    ) -> wasmtime::Result<Self> {
        let len = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        charge(|m| m.charge(string_bytes(len)))?;
        String::linear_lift_from_memory(cx, ty, bytes).map(Self)
    }
}

/// A WIT `list` whose entry count is checked against the call's budget before any
/// entry is lifted (or any room for them is allocated).
pub struct BoundedVec<T>(pub Vec<T>);

// SAFETY: every item is `Vec<T>`'s own; lifting checks a length, then defers to it.
unsafe impl<T: ComponentType> ComponentType for BoundedVec<T> {
    type Lower = <Vec<T> as ComponentType>::Lower;
    const ABI: CanonicalAbiInfo = <Vec<T> as ComponentType>::ABI;

    fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
        <Vec<T> as ComponentType>::typecheck(ty, types)
    }
}

// SAFETY: as above.
unsafe impl<T: Lift> Lift for BoundedVec<T> {
    fn linear_lift_from_flat(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        src: &Self::Lower,
    ) -> wasmtime::Result<Self> {
        charge(|m| m.entries(src[1].get_u32() as usize))?;
        Vec::<T>::linear_lift_from_flat(cx, ty, src).map(Self)
    }

    fn linear_lift_from_memory(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        bytes: &[u8],
    ) -> wasmtime::Result<Self> {
        let len = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        charge(|m| m.entries(len as usize))?;
        Vec::<T>::linear_lift_from_memory(cx, ty, bytes).map(Self)
    }
}

/// Installs a call's lift budget around every poll of `inner`.
pub struct WithBudget<F> {
    inner: Pin<Box<F>>,
    meter: Option<Meter>,
}

impl<F: Future> WithBudget<F> {
    pub fn new(inner: F, budget: LiftBudget) -> Self {
        Self {
            inner: Box::pin(inner),
            meter: Some(Meter::new(budget)),
        }
    }
}

impl<F: Future> Future for WithBudget<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let meter = self.meter.take();
        let outer = METER.with(|m| std::mem::replace(&mut *m.borrow_mut(), meter));
        let poll = self.inner.as_mut().poll(cx);
        self.meter = METER.with(|m| std::mem::replace(&mut *m.borrow_mut(), outer));
        poll
    }
}

/// How much a lift may copy: entries of a list, and bytes of all strings together.
#[derive(Debug, Clone, Copy)]
pub struct LiftBudget {
    pub max_entries: usize,
    pub max_bytes: usize,
}

/// Why a lift was refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LiftError {
    #[error("returned {0} entries, more than its limit of {1}")]
    Entries(usize, usize),
    #[error("returned at least {0} bytes, more than its limit of {1}")]
    Bytes(usize, usize),
    #[error("returned invalid data: {0}")]
    Invalid(String),
}

/// Counts bytes against the budget before each copy.
struct Meter {
    budget: LiftBudget,
    used: usize,
}

impl Meter {
    fn new(budget: LiftBudget) -> Self {
        Self { budget, used: 0 }
    }

    fn entries(&self, n: usize) -> Result<(), LiftError> {
        if n > self.budget.max_entries {
            return Err(LiftError::Entries(n, self.budget.max_entries));
        }
        Ok(())
    }

    /// Copies `s` out of guest memory if it still fits the byte budget.
    fn string(
        &mut self,
        store: &mut impl AsContextMut<Data = impl Send + 'static>,
        s: &WasmStr,
    ) -> Result<String, LiftError> {
        // UTF-8 strings (what every current toolchain emits) are borrowed from guest
        // memory here, so the length is known before anything is copied.
        let text = s
            .to_str(store.as_context_mut())
            .map_err(|e| LiftError::Invalid(format!("{e:#}")))?;
        self.charge(text.len())?;
        Ok(text.into_owned())
    }

    fn charge(&mut self, n: usize) -> Result<(), LiftError> {
        self.used = self.used.saturating_add(n);
        if self.used > self.budget.max_bytes {
            return Err(LiftError::Bytes(self.used, self.budget.max_bytes));
        }
        Ok(())
    }
}

fn invalid(e: wasmtime::Error) -> LiftError {
    LiftError::Invalid(format!("{e:#}"))
}

/// The messages a plugin passes to `llm.complete`.
pub fn message_list<T: Send + 'static>(
    store: &mut impl AsContextMut<Data = T>,
    raw: &WasmList<RawMessage>,
    budget: LiftBudget,
) -> Result<Vec<types::Message>, LiftError> {
    let mut m = Meter::new(budget);
    m.entries(raw.len())?;
    let mut out = Vec::with_capacity(raw.len());
    for i in 0..raw.len() {
        let Some(item) = raw.get(store.as_context_mut(), i) else {
            break;
        };
        let item = item.map_err(invalid)?;
        let content = m.string(store, &item.content)?;
        out.push(types::Message {
            role: item.role,
            content,
        });
    }
    Ok(out)
}

/// One string argument (`log`, `config.get`, `search`, `embed`), bounded the same way.
pub fn string<T: Send + 'static>(
    store: &mut impl AsContextMut<Data = T>,
    raw: &WasmStr,
    max_bytes: usize,
) -> Result<String, LiftError> {
    Meter::new(LiftBudget {
        max_entries: 1,
        max_bytes,
    })
    .string(store, raw)
}
