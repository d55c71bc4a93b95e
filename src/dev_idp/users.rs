//! The development IdP's demo users. Fixed `sub` values, so sessions survive restarts.

/// A user of the development user pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoUser {
    pub username: &'static str,
    pub password: &'static str,
    pub sub: &'static str,
    pub email: &'static str,
    pub given_name: &'static str,
    pub family_name: &'static str,
    pub groups: &'static [&'static str],
}

impl DemoUser {
    pub fn name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
    }
}

/// Every demo user: one plain, one in the `admins` group.
pub const DEMO_USERS: [DemoUser; 2] = [
    DemoUser {
        username: "demo",
        password: "demo-password",
        sub: "5f0c3a2e-7d4b-4c1e-9a6f-2b8d1e0c4a71",
        email: "demo@example.com",
        given_name: "Dana",
        family_name: "Demo",
        groups: &[],
    },
    DemoUser {
        username: "admin",
        password: "admin-password",
        sub: "9b7e2d14-3f6a-4e58-8c0b-7a1d5e9f2c36",
        email: "admin@example.com",
        given_name: "Ada",
        family_name: "Admin",
        groups: &["admins"],
    },
];

/// The user with this username, case-insensitively as Cognito compares usernames by default.
pub fn find(username: &str) -> Option<&'static DemoUser> {
    DEMO_USERS
        .iter()
        .find(|user| user.username.eq_ignore_ascii_case(username.trim()))
}

/// The user with this `sub`.
pub fn by_sub(sub: &str) -> Option<&'static DemoUser> {
    DEMO_USERS.iter().find(|user| user.sub == sub)
}
