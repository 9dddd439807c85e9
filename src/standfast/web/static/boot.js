// The page's entry: loads the console's modules. A network change (Wi-Fi roaming, a
// VPN coming up, an interface settling) aborts every request in flight, and a module
// that failed to load stays failed for the life of the page: the console would never
// start and the page would stay blank. So a failed load reloads the page, a few times
// at most (counted in sessionStorage), then says so with a way to try again.
const KEY = "sf-boot-retries";
const MAX_RETRIES = 3;

function retries() {
  const n = Number(sessionStorage.getItem(KEY) || "0");
  return Number.isFinite(n) ? n : 0;
}

try {
  await import("./main.js");
  sessionStorage.removeItem(KEY);
} catch (exc) {
  const n = retries();
  if (n < MAX_RETRIES) {
    sessionStorage.setItem(KEY, String(n + 1));
    setTimeout(() => location.reload(), 300 * (n + 1));
  } else {
    sessionStorage.removeItem(KEY);
    const box = document.getElementById("boot-error");
    box.hidden = false;
    box.querySelector(".boot-detail").textContent = String(exc);
    box.querySelector("button").addEventListener("click", () => location.reload());
  }
}
