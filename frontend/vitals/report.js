// Flashbulb's Web Vitals reporter: Google's web-vitals library (bundled before this file by
// scripts/build-site, as the local `webVitals`) measures LCP, INP, CLS, FCP and TTFB; these
// lines send what it measured to the server whenever the page is hidden.
//
// Every page loads this one small script, the pages without islands nothing else: measuring
// must not cost a page the WebAssembly it otherwise has no use for.
//
// The beacon, which `app::vitals::Beacon` reads:
//   {"page":"9f…","route":"/p/:id","nav":"navigate","metrics":[{"name":"LCP","value":812.4}]}
// `route` is the page's route template, which the server wrote on this script's tag, so
// that a million photo pages make one row, not a million.

var route = (document.currentScript && document.currentScript.dataset.route) || '/*';
var beaconPath = '/api/vitals';
var pageView, navigation, values, sent;

/** A new page view: 32 hex digits, random where Web Crypto is there, else merely unique. */
function begin() {
  var bytes = new Uint8Array(16);
  try {
    crypto.getRandomValues(bytes);
  } catch (error) {
    for (var i = 0; i < bytes.length; i++) bytes[i] = Math.random() * 256;
  }
  pageView = Array.from(bytes, function (byte) {
    return (byte + 0x100).toString(16).slice(1);
  }).join('');
  navigation = 'navigate';
  values = {};
  sent = false;
}

/** The values so far, each metric's latest; the server keeps the latest per page view. */
function keep(metric) {
  values[metric.name] = metric.value;
  navigation = metric.navigationType;
  sent = false;
}

function send() {
  if (sent) return;
  var metrics = [];
  for (var name in values) {
    var value = values[name];
    // JSON has no NaN or infinity; such a value is no measurement anyway.
    if (isFinite(value)) metrics.push({ name: name, value: Math.round(value * 1e4) / 1e4 });
  }
  if (!metrics.length) return;
  var body = JSON.stringify({ page: pageView, route: route, nav: navigation, metrics: metrics });
  // A refused beacon (the browser's queue is full) goes with the next hide.
  sent = navigator.sendBeacon(beaconPath, new Blob([body], { type: 'application/json' }));
}

begin();
// A page restored from the back/forward cache is a new page view. This listener comes before
// the library's own (same target, same phase), so the restored view's values, which the
// library reports from its listener on, land in the new one.
addEventListener('pageshow', function (event) {
  if (event.persisted) begin();
}, true);
['onLCP', 'onINP', 'onCLS', 'onFCP', 'onTTFB'].forEach(function (on) {
  webVitals[on](keep, { reportAllChanges: true });
});
// On the document, after the library's listeners on the window: it settles its values (INP's
// pending entries, CLS's last window) when the page is hidden, before this sends them. A page
// shown again sends again when next hidden, with what it knows by then.
document.addEventListener('visibilitychange', function () {
  if (document.visibilityState === 'hidden') send();
  else sent = false;
});
// Safari may unload without a visibilitychange.
addEventListener('pagehide', send);
