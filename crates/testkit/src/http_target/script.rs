//! What the loopback target answers: a script of answers, counted in order
//! of arrival or per event, then a default.

use bytes::Bytes;

/// The header that names the event a delivery carries.
pub const EVENT_ID_HEADER: &str = "webhook-id";

/// The content type of the AWS JSON protocol, for canned AWS answers.
const AWS_JSON: &str = "application/x-amz-json-1.1";

/// One HTTP response the target sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Reply {
    /// `status` with no body.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// `status` with a JSON body.
    pub fn json(status: u16, body: impl Into<String>) -> Self {
        Self::status(status).with_body("application/json", body)
    }

    /// `status` with a body in the AWS JSON protocol, as an AWS service
    /// answers: drives an SDK client through answers an emulator never gives.
    pub fn aws_json(status: u16, body: impl Into<String>) -> Self {
        Self::status(status).with_body(AWS_JSON, body)
    }

    fn with_body(mut self, content_type: &str, body: impl Into<String>) -> Self {
        self.headers
            .push(("content-type".to_owned(), content_type.to_owned()));
        self.body = Bytes::from(body.into());
        self
    }
}

/// What the target does with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Reply(Reply),
    /// Reads the request and never answers: the connection stays open and
    /// silent until the target is dropped, as a hung endpoint's.
    Stall,
    /// Closes the connection unanswered and stops listening, so that later
    /// connections are refused: an endpoint that went away.
    GoAway,
}

impl From<u16> for Answer {
    fn from(status: u16) -> Self {
        Self::Reply(Reply::status(status))
    }
}

impl From<Reply> for Answer {
    fn from(reply: Reply) -> Self {
        Self::Reply(reply)
    }
}

/// How the target answers: the n-th request gets the n-th scripted answer
/// (counting every request, or only those for the same event), and every
/// request past the script the default (200 unless set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    answers: Vec<Answer>,
    counting: Counting,
    default: Answer,
}

/// Which earlier requests count towards a request's place in the script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Counting {
    All,
    SameEvent,
}

impl Script {
    /// Every request gets `answer`.
    pub fn always(answer: impl Into<Answer>) -> Self {
        Self::in_order(Vec::<Answer>::new()).then(answer)
    }

    /// The n-th request gets the n-th answer.
    pub fn in_order<A: Into<Answer>>(answers: impl IntoIterator<Item = A>) -> Self {
        Self {
            answers: answers.into_iter().map(Into::into).collect(),
            counting: Counting::All,
            default: Answer::from(200),
        }
    }

    /// The n-th request for an event (by its [`EVENT_ID_HEADER`]) gets the
    /// n-th answer; a request without one counts as the first.
    pub fn per_event<A: Into<Answer>>(answers: impl IntoIterator<Item = A>) -> Self {
        Self {
            counting: Counting::SameEvent,
            ..Self::in_order(answers)
        }
    }

    /// Answers every request past the script with `answer`.
    #[must_use]
    pub fn then(self, answer: impl Into<Answer>) -> Self {
        Self {
            default: answer.into(),
            ..self
        }
    }

    pub(crate) fn counting(&self) -> Counting {
        self.counting
    }

    /// The answer for a request that `earlier` counted requests preceded.
    pub(crate) fn answer(&self, earlier: usize) -> &Answer {
        self.answers.get(earlier).unwrap_or(&self.default)
    }
}
