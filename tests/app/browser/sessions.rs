//! The page of sessions in two real browsers (two profiles, so two devices to the app): one
//! ends the other's session, and the other is signed out on its next page.

use super::webdriver::Browser;
use super::{check_step, sign_in_with_the_form};
use crate::helpers::spawn_app_with;

#[tokio::test]
#[cfg_attr(
    no_browser,
    ignore = "needs chromium and chromedriver (Debian packages chromium, chromium-driver)"
)]
async fn ending_a_session_from_another_browser_signs_that_browser_out_on_its_next_page() {
    let (laptop, phone) = Browser::start_two().await;
    let app = spawn_app_with(&[]).await;
    for browser in [&laptop, &phone] {
        browser.goto(app.url("/").as_str()).await;
        sign_in_with_the_form(browser, &app, "demo", false).await;
    }
    laptop.goto(app.url("/account").as_str()).await;
    laptop.click("#sessions-link").await;
    laptop
        .wait_for_path(app.url("/account/sessions").path())
        .await;
    assert_eq!(
        laptop
            .execute("return document.querySelectorAll('#sessions tr.session').length;")
            .await,
        2
    );
    assert_eq!(
        laptop
            .text("#sessions tr[data-this-one=true] .browser")
            .await,
        "Chrome on Linux"
    );

    laptop
        .click("#sessions tr[data-this-one=false] form.sign-out-session button")
        .await;
    laptop.wait_for("#no-other-sessions").await;
    phone.goto(app.url("/").as_str()).await;

    phone.wait_for("main[data-signed-in=false]").await;
    assert!(phone.text("#status").await.contains("not signed in"));
    assert_eq!(app.idp.count("revoke"), 1);
    laptop.goto(app.url("/account").as_str()).await;
    laptop.wait_for("#email").await;
    check_step(&laptop, &app, "after ending the other session").await;
    laptop.quit().await;
    phone.quit().await;
}
