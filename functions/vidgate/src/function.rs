//! Every deployable function: the HTTP ones API Gateway invokes and the event ones S3 and the
//! scheduler invoke. Two types, so neither side's dispatch has an arm for the other's.

use crate::http::HttpFunction;

/// A function that is not behind a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventFunction {
    /// S3 `ObjectCreated` notifications.
    OnObjectCreated,
    /// The scheduled sweeper of abandoned uploads.
    ExpireUploads,
    /// The table's stream → lifecycle events on the bus.
    PublishEvents,
    /// The operator's erasure of one owner (invoked by hand).
    EraseOwner,
}

impl EventFunction {
    pub const ALL: [EventFunction; 4] = [
        EventFunction::OnObjectCreated,
        EventFunction::ExpireUploads,
        EventFunction::PublishEvents,
        EventFunction::EraseOwner,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EventFunction::OnObjectCreated => "on-object-created",
            EventFunction::ExpireUploads => "expire-uploads",
            EventFunction::PublishEvents => "publish-events",
            EventFunction::EraseOwner => "erase-owner",
        }
    }
}

/// One Lambda function: its name is its binary's, crate's and (in CamelCase) its SAM resource's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Function {
    Http(HttpFunction),
    Event(EventFunction),
}

impl Function {
    pub const ALL: [Function; HttpFunction::ALL.len() + EventFunction::ALL.len()] = {
        let mut all = [Function::Event(EventFunction::OnObjectCreated);
            HttpFunction::ALL.len() + EventFunction::ALL.len()];
        let mut i = 0;
        while i < HttpFunction::ALL.len() {
            all[i] = Function::Http(HttpFunction::ALL[i]);
            i += 1;
        }
        let mut j = 0;
        while j < EventFunction::ALL.len() {
            all[i + j] = Function::Event(EventFunction::ALL[j]);
            j += 1;
        }
        all
    };

    /// The kebab-case name: `create-upload`.
    pub fn name(self) -> &'static str {
        match self {
            Function::Http(f) => f.name(),
            Function::Event(f) => f.name(),
        }
    }
}

impl From<HttpFunction> for Function {
    fn from(f: HttpFunction) -> Self {
        Function::Http(f)
    }
}

impl From<EventFunction> for Function {
    fn from(f: EventFunction) -> Self {
        Function::Event(f)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn all_lists_every_function_once() {
        let names: HashSet<&str> = Function::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(names.len(), HttpFunction::ALL.len() + EventFunction::ALL.len());
    }
}
