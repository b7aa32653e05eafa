// What a person does on the dev server's own pages, in the browser: submit a form, sign up, read
// and approve the consent page, and arrive back at the client's callback.
//
// Not for: launching the browser (browser.mjs) or anything the client does with the code.

import { mailedCode, outboxFor } from './mail.mjs';

/**
 * Click `selector`, a submit button of a plain HTML form that posts back to a page (no redirect),
 * and wait until the answer is the page's new, loaded document. Returns that POST's response.
 */
export async function submitForm(page, selector) {
  const posted = page.waitForResponse(
    (r) => r.request().isNavigationRequest() && r.request().method() === 'POST' && r.frame() === page.mainFrame(),
  );
  const committed = page.waitForEvent('framenavigated', (f) => f === page.mainFrame());
  await page.click(selector);
  const [response] = await Promise.all([posted, committed]);
  await page.waitForLoadState('load');
  return response;
}

/** Whether `url` is `callbackUrl`'s /callback (any query). */
export const isCallbackOf = (callbackUrl) => {
  const target = new URL(callbackUrl);
  return (url) => url.origin === target.origin && url.pathname === target.pathname;
};

/**
 * Follow an authorization URL to the client's callback as a person would: sign up with `signUp`
 * (`{ email, password }`) if the sign-in page shows, type the code mailed to that address (read
 * from the dev server's outbox) on the "check your email" page, approve the consent page if it
 * shows. Returns `{ pages, consent, callback }`: the kinds of page met in order ('sign in',
 * 'check your email', 'consent'),
 * the consent page's heading and listed scope descriptions (or null), and the callback's
 * query parameters. Fails on any other page.
 */
export async function authorizeInBrowser(page, url, { callbackUrl, signUp }) {
  const atCallback = isCallbackOf(callbackUrl);
  const pages = [];
  let consent = null;
  // An authorization with nothing to ask lands on the callback straight away (a redirect).
  await page.goto(url.toString());
  for (let step = 0; step < 5 && !atCallback(new URL(page.url())); step++) {
    const heading = await page.locator('h1').innerText();
    if (heading === 'Sign in') {
      if (!signUp) throw new Error('the sign-in page showed, but this person has no sign-up details');
      pages.push('sign in');
      await submitForm(page, 'button[name="action"][value="show_signup"]');
      const form = page.locator('form:has(button[name="action"][value="signup"])');
      await form.locator('input[name="email"]').fill(signUp.email);
      await form.locator('input[name="password"]').fill(signUp.password);
      await submitForm(page, 'button[name="action"][value="signup"]');
    } else if (heading === 'Check your email') {
      if (!signUp) throw new Error('the verification page showed, but this person has no sign-up details');
      pages.push('check your email');
      const code = await mailedCode(outboxFor(page.url()), signUp.email);
      await page.locator('input[name="code"]').fill(code);
      await submitForm(page, 'button[name="action"][value="verify_email"]');
    } else if (/ wants to access your account$/.test(heading)) {
      pages.push('consent');
      consent = { heading, scopes: await page.locator('main li').allInnerTexts() };
      await Promise.all([page.waitForURL(atCallback), page.click('button[name="action"][value="approve"]')]);
    } else {
      throw new Error(`unexpected page on the way to the callback: "${heading}"`);
    }
  }
  if (!atCallback(new URL(page.url()))) throw new Error(`did not reach the callback; at ${page.url()}`);
  return { pages, consent, callback: new URL(page.url()).searchParams };
}
