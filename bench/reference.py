"""The reference: a bare Flask app that runs three simple ORM queries over the same database and renders a
small template. Pages are reported as a ratio of its throughput, so results compare across machines."""
from __future__ import annotations

import os

from flask import Flask, render_template_string
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Member(db.Model):
    __tablename__ = "member"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


class Meeting(db.Model):
    __tablename__ = "meeting"
    id: Mapped[int] = mapped_column(primary_key=True)


class Topic(db.Model):
    __tablename__ = "topic"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]


TEMPLATE = """<!doctype html><title>Reference</title><h1>{{ member.name }}</h1>
<p>{{ meetings }} sessions</p><ul>{% for t in topics %}<li>{{ t.title }}</li>{% endfor %}</ul>"""


def create_app() -> Flask:
    app = Flask(__name__)
    url = os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    db.init_app(app)

    @app.route("/")
    def index() -> str:
        member = db.session.get(Member, 1)
        meetings = db.session.scalar(select(func.count()).select_from(Meeting))
        topics = db.session.scalars(select(Topic).order_by(Topic.id.desc()).limit(10)).all()
        return render_template_string(TEMPLATE, member=member, meetings=meetings, topics=topics)

    return app
