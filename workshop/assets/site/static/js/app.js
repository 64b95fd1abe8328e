// Scale, baby, scale! demo site: the script CloudFront serves from S3 (stage 6).
// It asks the dynamic origin (the load balancer) for the visitor counter.
document.addEventListener("DOMContentLoaded", async () => {
  const target = document.querySelector(".users");
  if (!target) return;
  try {
    const answer = await fetch("/api/users", { headers: { Accept: "application/json" } });
    const { users } = await answer.json();
    target.textContent = users.toLocaleString();
  } catch (err) {
    target.textContent = "many";
  }
});
