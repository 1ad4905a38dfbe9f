"""/members: the directory with the group's mix, a profile with its sponsor chain, and the whole sponsor tree."""
from __future__ import annotations

from flask import Blueprint, Response, redirect, url_for
from flask_login import current_user

from thinknet import htmx
from thinknet.extensions import db
from thinknet.members import services
from thinknet.models import Member
from thinknet.pagecache import cached_page

bp = Blueprint("members", __name__, url_prefix="/members")


@bp.route("/")
@cached_page(same_for_each_role=True, timeless=True)
def index() -> Response:
    mix = services.sector_mix()
    return htmx.render("members/index.html", entries=services.directory(), mix=mix, named=services.named_sectors(mix),
                       chart=services.mix_chart(mix))


@bp.route("/tree")
@cached_page(same_for_each_role=True, timeless=True)
def tree() -> Response:
    return htmx.render("members/tree.html", rows=services.tree_rows(services.sponsor_tree()))


@bp.route("/tree/me")
def me_in_tree() -> Response:
    """The tree opened at the signed-in member (the tree itself is the same page for everyone)."""
    return redirect(url_for("members.tree", _anchor=f"tree-member-{current_user.id}"), 303)


@bp.route("/<int:member_id>")
@cached_page
def profile(member_id: int) -> Response:
    member = db.get_or_404(Member, member_id)
    return htmx.render(
        "members/profile.html",
        member=member,
        chain=services.sponsor_chain(member),
        sponsored=services.sponsored_by(member),
        last_attended=services.last_attended(member),
    )
