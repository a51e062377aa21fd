// Shows the error line after a failed login (the server redirects to /login?error=1).
if (new URLSearchParams(location.search).has('error')) document.getElementById('error').hidden = false;
